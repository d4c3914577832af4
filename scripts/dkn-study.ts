/**
 * Degenerate knowledge neurons on the default model (issue #6): a seeded sample of facts from
 * every relation, the DKN pipeline with all layers searched and with layer 0 left out, and per
 * run: the fraction of facts with DKNs, the degeneracy curve (mean drop vs number of clusters
 * suppressed) with size-matched random controls at every size, the joint drop vs the best
 * single cluster, and the robustness experiment of methods.md §4.7 (perturbed prompts) on the
 * facts with ≥ 2 passing clusters.
 *
 *   npm run study:dkn -- [--per-relation 15] [--seed 7] [--path zero|amig] [--model default|FOLDER]
 *                        [--out results/dkn-study.json]
 *
 * `--path amig` attributes along the AMIG path (methods.md §4.8) instead of from zero; `--model`
 * runs the study on another GPT-2 trained on the default facts (e.g. a deeper one from
 * `npm run train:default -- --layers 8 --out FOLDER`).
 *
 * Curves are kept for two fact groups: ≥ 2 passing clusters (the paper's DKN candidates), and
 * ≥ 2 candidate clusters whatever the < 5% filter says (the clustering's own degeneracy).
 * Robustness runs in both of the paper's variants (activations, value slots), each twice: with
 * the paper's markers `[ADDED]` / `[REPLACED]`, and with plain in-vocabulary words, because the
 * default model was never trained on brackets and reads the markers as noise of its own (that
 * would measure the markers, not the DKNs).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { degeneracyCurve, summarizeCurves, type DegeneracyCurve } from '../src/core/degeneracy/curve';
import { findDegenerateNeurons, type DknResult } from '../src/core/degeneracy/dkn';
import { makeDropMeter } from '../src/core/degeneracy/filter';
import { factRobustness, PAPER_WORDS, perturbPrompt, PERTURBATIONS, summarizeRobustness, type EncodedItem, type FactRobustness, type Perturbation, type PerturbationWords } from '../src/core/degeneracy/robustness';
import { summarizeDknResults } from '../src/core/degeneracy/summary';
import type { Engine } from '../src/core/engine';
import { promptsFor, relationsById, targetFor } from '../src/core/facts/prompts';
import type { Fact, FactSet } from '../src/core/facts/types';
import type { Neuron } from '../src/core/knowledge/refine';
import { makeRng, shuffleInPlace } from '../src/core/random';
import { loadGpt2Engine } from '../src/cli/common';
import { factItems } from '../src/cli/fact-items';
import { loadFactSetFile } from '../src/cli/facts-file';
import { igBaseline } from '../src/cli/knowledge';

const { values: opts } = parseArgs({
  options: {
    'per-relation': { type: 'string', default: '15' },
    seed: { type: 'string', default: '7' },
    out: { type: 'string', default: 'results/dkn-study.json' },
    path: { type: 'string', default: 'zero' },
    model: { type: 'string', default: 'default' },
  },
});
const path = igBaseline(opts.path!, '--path');
const perRelation = Number(opts['per-relation']);
const seed = Number(opts.seed);

const set = loadFactSetFile('default');
const engine = await loadGpt2Engine(opts.model, 'wasm', 'degeneracy');
const nLayer = engine.info.config.nLayer;
const rng = makeRng(seed);
const sample: Fact[] = set.relations.flatMap((r) => shuffleInPlace(set.facts.filter((f) => f.relation === r.id), rng).slice(0, perRelation));
const relations = relationsById(set);

/** The paper's bracket markers, and plain in-vocabulary words for a model that never saw brackets. */
const WORD_CHOICES: Record<string, PerturbationWords> = { paper: PAPER_WORDS, plain: { added: 'really', replaced: 'the' } };
/** Every word choice in both variants of §4.7: activations ('values', keyed by the word choice) and value slots ('<choice>-weights'). */
const ROBUSTNESS_RUNS = Object.entries(WORD_CHOICES).flatMap(([choice, words]) =>
  (['values', 'weights'] as const).map((variant) => ({ key: variant === 'values' ? choice : `${choice}-weights`, words, variant })),
);

/** Each prompt perturbed once per kind (seeded per fact), as disturb_query.py does per query. */
function perturbedItems(eng: Engine, fact: Fact, prompts: string[], factSeed: number, words: PerturbationWords): Record<Perturbation, Array<EncodedItem | null>> {
  const perturbRng = makeRng(factSeed);
  const out = {} as Record<Perturbation, Array<EncodedItem | null>>;
  for (const kind of PERTURBATIONS) {
    out[kind] = prompts.map((p) => {
      const text = perturbPrompt(p, kind, perturbRng, words);
      if (text === null) return null;
      try {
        return eng.encodeFact(text, targetFor(fact));
      } catch {
        return null; // the answer merges with a word added at the end: no such perturbed prompt
      }
    });
  }
  return out;
}

/** Curves and robustness of one fact's result; the drop meter is only built when a curve needs it. */
async function factExtras(fact: Fact, k: number, r: DknResult, items: EncodedItem[]) {
  const located: Neuron[] = r.neurons.map((n) => [n.layer, n.index]);
  const used = items.slice(0, r.promptsUsed);
  const wantCandidates = r.clusters.length >= 2;
  const wantPassing = r.bdcs.length >= 2;
  if (!wantCandidates && !wantPassing) return { candidates: null, passing: null, robustness: null, perFactRobustness: null };
  const meter = await makeDropMeter(engine.weights, used, r.settings.site);
  const curveOf = (clusters: Neuron[][], analysis: DknResult['analysis']) => degeneracyCurve(clusters, located, engine.info.config.nInner, meter.drop, { seed, analysis });
  const passing = wantPassing ? await curveOf(r.bdcs, r.analysis) : null;
  // When every candidate passed, the two groups hold the same clusters: measure once.
  const candidates = !wantCandidates ? null : passing && r.bdcs.length === r.clusters.length ? passing : await curveOf(r.clusters.map((c) => c.neurons), null);
  if (!wantPassing) return { candidates, passing, robustness: null, perFactRobustness: null };
  const prompts = promptsFor(fact, relations.get(fact.relation)).slice(0, r.promptsUsed);
  const robustness: Record<string, FactRobustness> = {};
  for (const { key, words, variant } of ROBUSTNESS_RUNS) {
    robustness[key] = await factRobustness(engine.weights, { clean: used, perturbed: perturbedItems(engine, fact, prompts, seed + k, words), dkn: r.bdcs.flat(), kn: located }, { site: r.settings.site, seed: seed + k, variant });
  }
  const perFactRobustness = Object.fromEntries(Object.entries(robustness).map(([w, x]) => [w, x.byPerturbation]));
  return { candidates, passing, robustness, perFactRobustness };
}

async function run(label: string, layers: [number, number] | null) {
  const started = performance.now();
  const results: DknResult[] = [];
  const curves = { passing: [] as DegeneracyCurve[], candidates: [] as DegeneracyCurve[] };
  const robustness: Record<string, FactRobustness[]> = Object.fromEntries(ROBUSTNESS_RUNS.map((run) => [run.key, []]));
  const perFact = [];
  for (const [k, fact] of sample.entries()) {
    const items = factItems(engine, set, fact);
    const r = await findDegenerateNeurons(engine.weights, { promptIds: items.map((i) => i.promptIds), targetIds: items[0].targetIds }, { seed, path, ...(layers ? { layers } : {}) });
    results.push(r);
    const extras = await factExtras(fact, k, r, items);
    if (extras.passing) curves.passing.push(extras.passing);
    if (extras.candidates) curves.candidates.push(extras.candidates);
    for (const [w, x] of Object.entries(extras.robustness ?? {})) robustness[w].push(x);
    perFact.push({
      id: sample[k].id, p0: r.p0, neurons: r.neurons.length, neuronLayers: [...new Set(r.neurons.map((n) => n.layer))].sort((a, b) => a - b),
      clusters: r.clusters.length, clusterSizes: r.clusters.map((c) => c.neurons.length), clusterSpans: r.clusters.map((c) => c.layers[1] - c.layers[0]),
      filterDrops: r.filter.decisions.map((d) => d.drop), passing: r.filter.passing.length, jointDrop: r.jointDrop, verdict: r.verdict,
      passingCurve: extras.passing, candidateCurve: extras.candidates, robustness: extras.perFactRobustness, seconds: r.seconds,
    });
    if (process.stderr.isTTY) process.stderr.write(`\r${label}: ${k + 1}/${sample.length}   `);
  }
  const layerHistogram: Record<string, number> = {};
  for (const r of results) for (const n of r.neurons) layerHistogram[n.layer] = (layerHistogram[n.layer] ?? 0) + 1;
  const clusterSizes: Record<string, number> = {};
  const clusterSpans: Record<string, number> = {};
  for (const r of results) for (const c of r.clusters) {
    clusterSizes[c.neurons.length] = (clusterSizes[c.neurons.length] ?? 0) + 1;
    clusterSpans[c.layers[1] - c.layers[0]] = (clusterSpans[c.layers[1] - c.layers[0]] ?? 0) + 1;
  }
  const summary = summarizeDknResults(results);
  const meanP0 = results.reduce((a, r) => a + r.p0, 0) / Math.max(results.length, 1);
  const out = {
    label, layers, seconds: (performance.now() - started) / 1000, summary, meanP0, layerHistogram,
    candidateClusters: { sizes: clusterSizes, layerSpans: clusterSpans },
    curve: { passing: summarizeCurves(curves.passing), candidates: summarizeCurves(curves.candidates) },
    robustness: { words: WORD_CHOICES, ...Object.fromEntries(Object.entries(robustness).map(([w, rs]) => [w, summarizeRobustness(rs)])) },
    perFact,
  };
  process.stderr.write(`\n${label}: ${summary.withDkn}/${summary.facts} facts with DKNs; reasons ${JSON.stringify(summary.reasons)}; ${out.seconds.toFixed(0)} s\n`);
  return out;
}

const runs = [await run('all layers', null), await run(`layers 1-${nLayer - 1}`, [1, nLayer - 1])];
engine.dispose();
mkdirSync(dirname(opts.out!), { recursive: true });
writeFileSync(opts.out!, `${JSON.stringify({ model: engine.info.id, path, seed, perRelation, facts: sample.length, relations: set.relations.map((r) => r.id), runs }, null, 1)}\n`);
process.stderr.write(`wrote ${opts.out}\n`);
