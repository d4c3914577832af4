/**
 * TargetKG / ControlKG / ControlLM for `factlab subnet`: each KG set is a fact file
 * (`--target FILE`) or a selection of the fact library (`--target-ids`, `--target-relation`);
 * the control set defaults to every library fact that is not a target.
 */
import { readFileSync } from 'node:fs';
import type { Engine } from '../core/engine';
import { FactlabError } from '../core/errors';
import type { Fact, FactSet } from '../core/facts/types';
import { kgItemsFromFacts, type KgItem } from '../core/subnetwork/data';
import { assertDisjointFacts, assertDisjointItems, assertNonEmptyFacts, complementOf } from '../core/subnetwork/sets';
import { loadFactSetFile, selectFacts } from './facts-file';

export const SET_OPTIONS = {
  facts: { type: 'string' },
  target: { type: 'string' },
  'target-ids': { type: 'string' },
  'target-relation': { type: 'string' },
  control: { type: 'string' },
  'control-ids': { type: 'string' },
  'control-relation': { type: 'string' },
  lm: { type: 'string' },
} as const;

export const SET_USAGE = `            (--target FILE | --target-ids ID,… | --target-relation R,…) [--facts FILE|default]
            [--control FILE | --control-ids ID,… | --control-relation R,…]  (default: every other library fact)
            [--lm TEXT_FILE]  (ControlLM text)`;

type SetArgs = { [K in keyof typeof SET_OPTIONS]?: string };
type Role = 'target' | 'control';

interface FactSelection {
  set: FactSet;
  facts: Fact[];
  from: string;
}

function selectRelations(library: FactSet, text: string, flag: string): Fact[] {
  const wanted = text.split(',').map((r) => r.trim());
  const known = new Set(library.relations.map((r) => r.id));
  const unknown = wanted.find((r) => !known.has(r));
  if (unknown !== undefined) throw new FactlabError('usage', `${flag}: no relation "${unknown}" in ${library.name}; it has ${[...known].join(', ')}.`);
  return library.facts.filter((f) => wanted.includes(f.relation));
}

function selectSet(args: SetArgs, role: Role, library: () => FactSet, target?: FactSelection): FactSelection {
  const file = args[role];
  const ids = args[`${role}-ids`];
  const relations = args[`${role}-relation`];
  const given = [file, ids, relations].filter((x) => x !== undefined).length;
  if (given > 1) throw new FactlabError('usage', `Give one of --${role}, --${role}-ids and --${role}-relation, not several.`);
  if (file !== undefined) {
    const set = loadFactSetFile(file);
    return { set, facts: set.facts, from: file };
  }
  if (ids !== undefined) return { set: library(), facts: selectFacts(library(), ids), from: `--${role}-ids` };
  if (relations !== undefined) return { set: library(), facts: selectRelations(library(), relations, `--${role}-relation`), from: `--${role}-relation ${relations}` };
  if (role === 'target') throw new FactlabError('usage', 'Say which knowledge to remove: --target FILE, --target-ids ID,… or --target-relation R (see `factlab --help`).');
  return { set: library(), facts: complementOf(library().facts, target!.facts), from: `the facts of ${library().name} that are not targets` };
}

export interface SubnetSets {
  target: KgItem[];
  control: KgItem[];
  targetFrom: string;
  controlFrom: string;
}

/** The two KG sets as token items (one sentence per fact, its first prompt), non-empty and disjoint. */
export function subnetSets(engine: Engine, args: SetArgs): SubnetSets {
  let library: FactSet | undefined;
  const lib = () => (library ??= loadFactSetFile(args.facts ?? 'default'));
  const target = selectSet(args, 'target', lib);
  const control = selectSet(args, 'control', lib, target);
  assertNonEmptyFacts(target.facts, 'TargetKG', target.from);
  assertNonEmptyFacts(control.facts, 'ControlKG', control.from);
  assertDisjointFacts(target.facts, control.facts);
  const items = (s: FactSelection) => kgItemsFromFacts(engine.tokenizer, s.set, s.facts);
  const sets = { target: items(target), control: items(control), targetFrom: target.from, controlFrom: control.from };
  assertDisjointItems(sets.target, sets.control);
  return sets;
}

/** ControlLM tokens of a text file (undefined without --lm). */
export function lmTokens(engine: Engine, file: string | undefined): number[] | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new FactlabError('usage', `Cannot read the ControlLM text ${file}: check the path.`);
  }
  const ids = engine.tokenizer.encode(text);
  if (ids.length === 0) throw new FactlabError('bad-subnet-data', `The ControlLM text ${file} is empty.`);
  return ids;
}
