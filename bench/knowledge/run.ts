/**
 * The knowledge-neurons paper's tables on factlab's default model (no peer: these are
 * quality numbers, compared with the paper's headline in the same output):
 *  - suppress (×0) / amplify (×2) a fact's refined neurons: % change of the correct
 *    probability on its own prompts vs one fact of another relation, for integrated
 *    gradients and for the activation baseline;
 *  - the distribution of the IG completeness error per layer (m = 20).
 *
 *   npm run bench:knowledge [-- --count 100 --seed 42 --model default|default-bert]
 *
 * On the embedded BERT the facts are asked as cloze prompts at [MASK]; only facts whose
 * object is one word piece can be, and the sample is drawn from those (the skipped count is printed).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL_DIR } from '../../src/cli/common';
import { initNodeBackend } from '../../src/cli/node-backend';
import { loadEngine } from '../../src/core/engine';
import { importFacts } from '../../src/core/facts/io';
import { parseModelSource } from '../../src/core/hub/source';
import { evaluateInterventions, poseableFacts, sampleFacts, type InterventionEvaluation } from '../../src/core/knowledge/evaluate';
import { REFINE_PRESETS } from '../../src/core/knowledge/refine';
import { outPath } from '../lib/paths';
import { formatTable } from '../lib/report';

const { values } = parseArgs({ options: { count: { type: 'string', default: '100' }, seed: { type: 'string', default: '42' }, model: { type: 'string', default: 'default' } } });
const count = Number(values.count);
const seed = Number(values.seed);

await initNodeBackend('wasm');
const engine = await loadEngine(parseModelSource(values.model!), { defaultLocation: DEFAULT_MODEL_DIR });
const library = importFacts(readFileSync(`${DEFAULT_MODEL_DIR}/facts.json`), { fileName: 'facts.json' });
// A masked model can only be asked facts with one-piece answers: sample among those.
const poseable = poseableFacts(engine.factModel, library);
const set = { ...library, facts: poseable };
const facts = sampleFacts(set, count, seed);
if (poseable.length < library.facts.length) console.log(`${library.facts.length - poseable.length} of ${library.facts.length} facts cannot be asked of ${engine.info.id} (answers of several word pieces); sampling from the other ${poseable.length}`);
const pct = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;

const runs: Record<string, InterventionEvaluation> = {};
for (const method of ['ig', 'activation'] as const) {
  runs[method] = await evaluateInterventions(engine.factModel, set, facts, { method, refine: REFINE_PRESETS.project, seed }, {
    onProgress: (p) => process.stderr.isTTY && process.stderr.write(`\r${method}: ${p.stage}   `),
  });
}
if (process.stderr.isTTY) process.stderr.write('\n');

const ig = runs.ig;
console.log(`knowledge neurons on ${engine.info.id}: ${ig.facts} facts over ${ig.relations.length} relations (seed ${seed}), preset project (t = 0.2, p = 0.7, ≥ 3 prompts), m = 20, right rule, post-GELU, at ${engine.arch === 'bert' ? '[MASK]' : 'the last prompt token'}\n`);
console.log(formatTable(
  ['neurons', 'per fact', 'no neurons', 'suppress own', 'suppress other', 'amplify own', 'amplify other'],
  Object.entries(runs).map(([method, r]) => [
    method === 'ig' ? 'integrated gradients' : 'activation baseline',
    r.meanNeurons.toFixed(2),
    String(r.factsWithoutNeurons),
    pct(r.suppress.own.ratioOfMeans),
    pct(r.suppress.other.ratioOfMeans),
    pct(r.amplify.own.ratioOfMeans),
    pct(r.amplify.other.ratioOfMeans),
  ]),
));
console.log('paper (BERT-base, PARAREL): IG suppress −29.03%, amplify +31.17%; activation baseline negligible / −1.27%');
console.log(`aggregation: ratio of means per relation, averaged over relations (official). Mean of per-prompt ratios (EleutherAI): IG suppress own ${pct(ig.suppress.own.meanOfRatios)}, other ${pct(ig.suppress.other.meanOfRatios)}; amplify own ${pct(ig.amplify.own.meanOfRatios)}, other ${pct(ig.amplify.other.meanOfRatios)}\n`);
console.log(formatTable(
  ['relation', 'facts', 'neurons/fact', 'suppress own', 'suppress other', 'amplify own', 'amplify other'],
  ig.perRelation.map((r) => [r.relation, String(r.facts), r.meanNeurons.toFixed(2), pct(r.suppressOwn), pct(r.suppressOther), pct(r.amplifyOwn), pct(r.amplifyOther)]),
));
console.log(`\nlayer share of IG neurons: ${ig.layerShare.map((s, l) => `L${l} ${(100 * s).toFixed(0)}%`).join(', ')}`);

// Completeness: per prompt and layer where |P(full) − P(layer zeroed)| > 1e-3.
const errors = ig.perFact.flatMap((f) => f.completeness.filter((c) => Math.abs(c.delta) > 1e-3).map((c) => c.relError)).sort((a, b) => a - b);
const quantile = (q: number) => errors[Math.min(errors.length - 1, Math.floor(q * errors.length))];
const within2 = errors.filter((e) => e <= 0.02).length / errors.length;
console.log(`\ncompleteness (m = 20, right rule), ${errors.length} prompt×layer cases with |ΔP| > 1e-3: median ${pct(quantile(0.5))}, p90 ${pct(quantile(0.9))}, p99 ${pct(quantile(0.99))}, max ${pct(errors[errors.length - 1])}; ${(100 * within2).toFixed(1)}% within 2%`);

const summary = {
  model: engine.info.id,
  facts: ig.facts,
  relations: ig.relations,
  seed,
  ig: { ...ig, perFact: undefined },
  activation: { ...runs.activation, perFact: undefined },
  completeness: { cases: errors.length, median: quantile(0.5), p90: quantile(0.9), p99: quantile(0.99), max: errors[errors.length - 1], within2pct: within2 },
};
writeFileSync(outPath(engine.arch === 'bert' ? 'knowledge-bert.json' : 'knowledge.json'), JSON.stringify(summary, null, 2));
engine.dispose();
