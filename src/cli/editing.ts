/** `factlab edit | erase`: the paper's editing experiments (update one fact, erase a relation). */
import { readFileSync } from 'node:fs';
import type { Engine } from '../core/engine';
import { FactlabError } from '../core/errors';
import type { Fact, FactSet } from '../core/facts/types';
import { eraseRelationExperiment, updateFactExperiment } from '../core/knowledge/edit-eval';
import type { Neuron } from '../core/knowledge/refine';
import { loadEngine, parseCommandArgs, printJson } from './common';
import { factItems } from './fact-items';
import { loadFactSetFile, selectFacts } from './facts-file';
import { attributionSettings, refineSettings } from './knowledge';

const SHARED = {
  model: { type: 'string' },
  facts: { type: 'string' },
  kn: { type: 'string' },
  steps: { type: 'string' },
  preset: { type: 'string' },
  t: { type: 'string' },
  p: { type: 'string' },
  seed: { type: 'string' },
} as const;

/** Knowledge-neuron sets by fact id: read from a `factlab neurons --json` file, or computed now. */
async function neuronSets(engine: Engine, set: FactSet, facts: Fact[], args: { kn?: string; steps?: string; preset?: string; t?: string; p?: string }): Promise<Map<string, Neuron[]>> {
  const sets = new Map<string, Neuron[]>();
  if (args.kn) {
    let parsed: { facts?: Array<{ id: string; neurons: Neuron[] }> };
    try {
      parsed = JSON.parse(readFileSync(args.kn, 'utf8'));
    } catch {
      throw new FactlabError('usage', `--kn ${args.kn} is not a readable JSON file from \`factlab neurons --json\`.`);
    }
    for (const f of parsed.facts ?? []) sets.set(f.id, f.neurons);
  }
  const attribution = attributionSettings(args, engine.info.config.nLayer);
  const refine = refineSettings(args);
  for (const [k, fact] of facts.entries()) {
    if (sets.has(fact.id)) continue;
    if (process.stderr.isTTY) process.stderr.write(`\rknowledge neurons ${k + 1}/${facts.length}   `);
    let items;
    try {
      items = factItems(engine, set, fact);
    } catch (err) {
      // A fact this model cannot pose (a BERT answer of several word pieces) has no neurons here.
      if (err instanceof FactlabError) continue;
      throw err;
    }
    const found = await engine.factModel.factNeurons(items, { attribution, refine });
    sets.set(fact.id, found.refined.neurons.map((n) => [n.layer, n.index] as Neuron));
  }
  return sets;
}

export async function runEdit(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, { ...SHARED, id: { type: 'string' }, to: { type: 'string' } }, 'edit');
  if (!args.id || !args.to) throw new FactlabError('usage', 'edit needs --id FACT_ID and --to NEW_OBJECT.');
  const set = loadFactSetFile(args.facts);
  const [fact] = selectFacts(set, args.id);
  const engine = await loadEngine(args.model, args.backend);
  try {
    const relationFacts = set.facts.filter((f) => f.relation === fact.relation);
    const sets = await neuronSets(engine, set, relationFacts, args);
    const result = await updateFactExperiment(engine.factModel, set, fact, args.to, sets.get(fact.id) ?? [], [...sets.values()], Number(args.seed ?? 42));
    const { edit, ...rest } = result;
    const out = { model: engine.info.id, ...rest, editedSlots: edit?.slots.map((s) => ({ param: s.param, row: s.row })) ?? [] };
    if (args.json) printJson(out);
    else if (result.skipped) process.stdout.write(`skipped: ${result.skipped}\n`);
    else process.stdout.write(`success ${result.success}, changed ${result.changed}, rank of new object ${result.rankBefore} → ${result.rankAfter}; intra-relation PPL ${result.intra.before.toFixed(2)} → ${result.intra.after.toFixed(2)}, inter ${result.inter.before.toFixed(2)} → ${result.inter.after.toFixed(2)}\n`);
    return 0;
  } finally {
    engine.dispose();
  }
}

export async function runErase(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, { ...SHARED, relation: { type: 'string' }, replacement: { type: 'string' }, top: { type: 'string' }, 'other-facts': { type: 'string' } }, 'erase');
  const set = loadFactSetFile(args.facts);
  if (!args.relation || !set.relations.some((r) => r.id === args.relation)) {
    throw new FactlabError('usage', `erase needs --relation, one of: ${set.relations.map((r) => r.id).join(', ')}.`);
  }
  const replacement = (args.replacement ?? 'zero') as 'zero' | 'unk' | 'mean-embedding';
  if (replacement !== 'zero' && replacement !== 'unk' && replacement !== 'mean-embedding') throw new FactlabError('usage', '--replacement must be zero, unk (BERT) or mean-embedding (GPT-2).');
  const engine = await loadEngine(args.model, args.backend);
  try {
    const relationFacts = set.facts.filter((f) => f.relation === args.relation);
    const sets = await neuronSets(engine, set, relationFacts, args);
    const result = await eraseRelationExperiment(engine.factModel, set, args.relation, [...sets.values()], {
      replacement,
      top: args.top === undefined ? 20 : Number(args.top),
      otherFacts: args['other-facts'] === undefined ? undefined : Number(args['other-facts']),
      seed: Number(args.seed ?? 42),
    });
    const { edit: _edit, ...rest } = result;
    if (args.json) printJson({ model: engine.info.id, ...rest });
    else {
      const line = (name: string, m: typeof result.erased) => `${name}: accuracy ${(100 * m.before.accuracy).toFixed(1)}% → ${(100 * m.after.accuracy).toFixed(1)}%, PPL ${m.before.perplexity.toFixed(2)} → ${m.after.perplexity.toFixed(2)}\n`;
      process.stdout.write(line(`erased ${args.relation}`, result.erased) + line('other relations', result.others));
    }
    return 0;
  } finally {
    engine.dispose();
  }
}
