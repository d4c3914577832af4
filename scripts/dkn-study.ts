/**
 * Degenerate knowledge neurons on the default model (issue #6): a seeded sample of facts from
 * every relation, the DKN pipeline with all layers searched and with layer 0 left out, the
 * fraction of facts with DKNs, the degeneracy curve (mean drop vs number of clusters
 * suppressed) with size-matched random controls, and the joint drop vs the best single cluster.
 *
 *   npm run study:dkn -- [--per-relation 15] [--seed 7] [--out results/dkn-study.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { findDegenerateNeurons, type DknResult } from '../src/core/degeneracy/dkn';
import { summarizeDknResults } from '../src/core/degeneracy/summary';
import type { Fact } from '../src/core/facts/types';
import { makeRng, shuffleInPlace } from '../src/core/random';
import { loadGpt2Engine } from '../src/cli/common';
import { factItems } from '../src/cli/fact-items';
import { loadFactSetFile } from '../src/cli/facts-file';

const { values: opts } = parseArgs({
  options: {
    'per-relation': { type: 'string', default: '15' },
    seed: { type: 'string', default: '7' },
    out: { type: 'string', default: 'results/dkn-study.json' },
  },
});
const perRelation = Number(opts['per-relation']);
const seed = Number(opts.seed);

const set = loadFactSetFile('default');
const engine = await loadGpt2Engine('default', 'wasm', 'degeneracy');
const nLayer = engine.info.config.nLayer;
const rng = makeRng(seed);
const sample: Fact[] = set.relations.flatMap((r) => shuffleInPlace(set.facts.filter((f) => f.relation === r.id), rng).slice(0, perRelation));

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** Mean drop by number of clusters suppressed (1 … n, n = all), over facts with ≥ 2 passing clusters, with random controls of all. */
function curve(results: DknResult[]) {
  const analysed = results.filter((r) => r.analysis);
  const bySize = new Map<number, number[]>();
  for (const r of analysed) {
    for (const m of r.analysis!.meanBySize) bySize.set(m.size, [...(bySize.get(m.size) ?? []), m.mean]);
    bySize.set(r.analysis!.clusters, [...(bySize.get(r.analysis!.clusters) ?? []), r.analysis!.all ?? 0]);
  }
  const bestSingle = analysed.map((r) => Math.max(...r.analysis!.subsets.filter((s) => s.size === 1).map((s) => s.drop)));
  return {
    facts: analysed.length,
    meanDropByClusters: [...bySize.entries()].sort((a, b) => a[0] - b[0]).map(([clusters, drops]) => ({ clusters, facts: drops.length, meanDrop: mean(drops) })),
    meanBestSingleCluster: mean(bestSingle),
    meanAllClusters: mean(analysed.map((r) => r.analysis!.all ?? 0)),
    meanRandomSameSize: mean(analysed.flatMap((r) => r.controls?.controls.filter((c) => c.target === 'all').map((c) => c.mean) ?? [])),
    allBeatsBestSingle: analysed.filter((r, i) => (r.analysis!.all ?? 0) > bestSingle[i]).length,
  };
}

async function run(label: string, layers: [number, number] | null) {
  const started = performance.now();
  const results: DknResult[] = [];
  for (const [k, fact] of sample.entries()) {
    const items = factItems(engine, set, fact);
    results.push(await findDegenerateNeurons(engine.weights, { promptIds: items.map((i) => i.promptIds), targetIds: items[0].targetIds }, layers ? { layers } : {}));
    if (process.stderr.isTTY) process.stderr.write(`\r${label}: ${k + 1}/${sample.length}   `);
  }
  const layerHistogram: Record<string, number> = {};
  for (const r of results) for (const n of r.neurons) layerHistogram[n.layer] = (layerHistogram[n.layer] ?? 0) + 1;
  const summary = summarizeDknResults(results);
  const out = { label, layers, seconds: (performance.now() - started) / 1000, summary, layerHistogram, curve: curve(results), perFact: results.map((r, i) => ({ id: sample[i].id, neurons: r.neurons.length, clusters: r.clusters.length, passing: r.filter.passing.length, jointDrop: r.jointDrop, verdict: r.verdict })) };
  process.stderr.write(`\n${label}: ${summary.withDkn}/${summary.facts} facts with DKNs; reasons ${JSON.stringify(summary.reasons)}; ${out.seconds.toFixed(0)} s\n`);
  return out;
}

const runs = [await run('all layers', null), await run(`layers 1-${nLayer - 1}`, [1, nLayer - 1])];
engine.dispose();
mkdirSync(dirname(opts.out!), { recursive: true });
writeFileSync(opts.out!, `${JSON.stringify({ model: engine.info.id, seed, perRelation, facts: sample.length, relations: set.relations.map((r) => r.id), runs }, null, 1)}\n`);
process.stderr.write(`wrote ${opts.out}\n`);
