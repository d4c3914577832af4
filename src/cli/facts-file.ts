/** Reading fact files for the CLI ('default' is the embedded model's fact set). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FactlabError } from '../core/errors';
import { importFacts } from '../core/facts/io';
import type { Fact, FactSet } from '../core/facts/types';
import { DEFAULT_MODEL_DIR } from './common';

export function loadFactSetFile(spec: string | undefined): FactSet {
  if (!spec) throw new FactlabError('usage', '--facts is required (a JSON or CSV fact file, or "default").');
  const path = spec === 'default' ? join(DEFAULT_MODEL_DIR, 'facts.json') : spec;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new FactlabError('facts-not-found', `Cannot read the fact file ${path}: check the path.`);
  }
  const defaults = spec === 'default' ? undefined : tryDefaultRelations();
  return importFacts(bytes, { fileName: path, relations: defaults });
}

/** Custom fact files may name the default relations without defining them. */
function tryDefaultRelations() {
  try {
    return importFacts(readFileSync(join(DEFAULT_MODEL_DIR, 'facts.json')), { fileName: 'facts.json' }).relations;
  } catch {
    return undefined;
  }
}

export function selectFacts(set: FactSet, ids: string | undefined): Fact[] {
  if (!ids) return set.facts;
  const byId = new Map(set.facts.map((f) => [f.id, f]));
  return ids.split(',').map((id) => {
    const fact = byId.get(id.trim());
    if (!fact) throw new FactlabError('usage', `No fact with id "${id.trim()}" in ${set.name}. Ids look like "${set.facts[0]?.id ?? 'capital_of/france'}".`);
    return fact;
  });
}
