/**
 * Degenerate knowledge neurons of one fact (Chen et al., ACL 2025; methods.md §4.3, D6):
 * knowledge neurons (integrated gradients, coarse threshold, D4 refining with several prompts)
 * → weight distances → persistent-homology clusters → functional filter → degeneracy analysis
 * and random controls, optionally the §4.4 baselines. The result is a plain JSON record with
 * every setting that produced it.
 */
import { FactlabError, throwIfAborted, yieldToEventLoop } from '../errors';
import type { AttributionProgress } from '../knowledge/attribution';
import { factNeurons } from '../knowledge/neurons';
import { checkNeuron, coarseNeurons, type Neuron } from '../knowledge/refine';
import type { Gpt2Weights } from '../model/weights';
import { degeneracyAnalysis, randomControls, type DegeneracyAnalysis, type RandomControls } from './analysis';
import { dbscanClusters, hierarchicalClusters, pairwiseBaseline, type PairwiseResult } from './baselines';
import { persistentHomologyClusters, type PersistentHomologyResult } from './clustering';
import { neuronDistances, summarizeDistances, type DistanceSummary } from './distances';
import { functionalFilter, makeDropMeter, type FilterResult, type VerdictReason } from './filter';
import { kmeansClusters } from './kmeans';
import { resolveDknSettings, type BaselineName, type DknOptions, type DknSettings } from './settings';

export interface DknFactInput {
  /** One prompt, or several paraphrases of the fact. */
  promptIds: number[] | number[][];
  targetIds: number[];
  /** Known knowledge neurons (e.g. from the lab's neuron map): skips the attribution. */
  neurons?: Neuron[];
}

export interface DknCallbacks {
  signal?: AbortSignal;
  onProgress?: (p: AttributionProgress) => void;
}

export interface DknNeuron {
  layer: number;
  index: number;
  /** Attribution (single prompt) or attribution summed over prompts; null for given neurons. */
  score: number | null;
  /** Number of prompts whose coarse set has the neuron (several prompts only). */
  count?: number;
}

export interface DknCluster {
  members: number[];
  neurons: Neuron[];
  /** Lowest and highest layer of the cluster. */
  layers: [number, number];
  birth?: number;
  persistence?: number;
  root?: number;
}

export interface BaselineResult {
  name: BaselineName;
  /** Parameters the baseline derived (threshold, eps, k, …). */
  details: Record<string, number | null>;
  clusters: DknCluster[];
  /** The functional filter on the baseline's clusters (null for the pairwise baseline, whose pairs are its result). */
  filter: FilterResult | null;
  /** Whether the baseline finds degenerate neurons for the fact. */
  dkn: boolean;
  /** Pairwise baseline only: single and pair drops. */
  pairwise?: PairwiseResult;
}

export interface DknResult {
  method: 'degenerate-knowledge-neurons';
  settings: DknSettings;
  prompts: number;
  promptsUsed: number;
  targetIds: number[];
  neuronSource: 'attribution' | 'given';
  /** Mean clean probability over the prompts used, and per prompt. */
  p0: number;
  p0PerPrompt: number[];
  neurons: DknNeuron[];
  distances: DistanceSummary & { matrix: number[] };
  clustering: Omit<PersistentHomologyResult, 'clusters'>;
  clusters: DknCluster[];
  filter: FilterResult;
  /** The passing clusters (base degenerate components), as neuron lists. */
  bdcs: Neuron[][];
  jointDrop: number | null;
  analysis: DegeneracyAnalysis | null;
  controls: RandomControls | null;
  baselines: BaselineResult[];
  verdict: { dkn: boolean; reason: VerdictReason };
  /** Patched forward passes run by the filter, the analysis, the controls and the baselines. */
  patchedPasses: number;
  seconds: number;
}

function toCluster(members: number[], neurons: Neuron[], extra: Partial<DknCluster> = {}): DknCluster {
  const list = members.map((k) => neurons[k]);
  const layers = list.map(([l]) => l);
  return { members, neurons: list, layers: [Math.min(...layers), Math.max(...layers)], ...extra };
}

/** Knowledge neurons with scores: coarse set of one prompt, or the D4 refined set of several. */
async function locateNeurons(weights: Gpt2Weights, items: Array<{ promptIds: number[]; targetIds: number[] }>, settings: DknSettings, callbacks: DknCallbacks): Promise<DknNeuron[]> {
  const { t, strict } = settings.coarse;
  const refine = { ...(settings.refine ?? { p: 0, minPrompts: 0 }), t, strict };
  const found = await factNeurons(
    weights,
    { promptIds: items.map((i) => i.promptIds), targetIds: items[0].targetIds },
    { method: 'ig', attribution: { steps: settings.steps, rule: settings.rule, site: settings.site, path: 'fast', baseline: settings.path, ...(settings.layers ? { layers: settings.layers } : {}) }, refine },
    { signal: callbacks.signal, onProgress: (p) => callbacks.onProgress?.({ ...p, fraction: 0.7 * p.fraction, stage: `knowledge neurons: ${p.stage}` }) },
  );
  if (items.length > 1) return found.refined.neurons.map((n) => ({ layer: n.layer, index: n.index, score: n.total, count: n.count }));
  const scores = new Map(found.scores[0].layers.map((l) => [l.layer, l.scores]));
  return coarseNeurons(found.scores[0], t, strict)
    .map(([layer, index]) => ({ layer, index, score: scores.get(layer)![index] }))
    .sort((a, b) => b.score - a.score || a.layer - b.layer || a.index - b.index);
}

export async function findDegenerateNeurons(weights: Gpt2Weights, fact: DknFactInput, options: DknOptions = {}, callbacks: DknCallbacks = {}): Promise<DknResult> {
  const started = performance.now();
  const settings = resolveDknSettings(options);
  const { signal } = callbacks;
  const progress = (fraction: number, stage: string) => callbacks.onProgress?.({ fraction, stage });
  const step = async (fraction: number, stage: string) => {
    throwIfAborted(signal, 'degenerate-neuron search');
    progress(fraction, stage);
    await yieldToEventLoop();
  };

  const allPrompts = typeof fact.promptIds[0] === 'number' ? [fact.promptIds as number[]] : (fact.promptIds as number[][]);
  if (allPrompts.length === 0 || allPrompts.some((p) => p.length === 0)) throw new FactlabError('bad-facts', 'The fact has an empty prompt list or an empty prompt.');
  if (fact.targetIds.length === 0) throw new FactlabError('empty-target', 'The target has no tokens.');
  const usedPrompts = settings.refine ? allPrompts : allPrompts.slice(0, 1);
  const items = usedPrompts.map((promptIds) => ({ promptIds, targetIds: fact.targetIds }));

  // 1. Knowledge neurons.
  let neurons: DknNeuron[];
  if (fact.neurons) {
    for (const n of fact.neurons) checkNeuron(n, weights.config.nLayer, weights.config.nInner);
    neurons = fact.neurons.map(([layer, index]) => ({ layer, index, score: null }));
  } else {
    await step(0, 'knowledge neurons');
    neurons = await locateNeurons(weights, items, settings, callbacks);
  }
  const list: Neuron[] = neurons.map((n) => [n.layer, n.index]);

  // 2. Distances.
  await step(0.72, 'distances');
  const distances = await neuronDistances(weights, list, { maxSpan: settings.maxSpan, pathRule: settings.pathRule });
  const matrix = Array.from(distances.matrix);

  // 3. Persistent-homology clustering.
  await step(0.74, 'clustering');
  const { clusters: candidates, ...clustering } = persistentHomologyClusters(distances.matrix, list.length, settings.clustering);
  const clusters = candidates.map((c) => toCluster(c.members, list, { birth: c.birth, persistence: c.persistence, root: c.root }));

  // 4. Functional filter.
  await step(0.76, 'functional filter');
  const meter = await makeDropMeter(weights, items, settings.site);
  const filter = await functionalFilter(clusters.map((c) => c.neurons), meter.drop, settings.filter, signal);
  const bdcs = filter.passing.map((k) => clusters[k].neurons);

  // 5. Degeneracy analysis and random controls.
  await step(0.82, 'degeneracy analysis');
  const analysis = bdcs.length >= 2
    ? await degeneracyAnalysis(bdcs, meter.drop, settings.analysis, { signal, onProgress: (f) => progress(0.82 + 0.1 * f, 'degeneracy analysis') })
    : null;
  await step(0.92, 'random controls');
  const controls = settings.controls && bdcs.length ? await randomControls(bdcs, list, weights.config.nInner, meter.drop, settings.controls, signal) : null;

  // Baselines (§4.4), each followed by the same functional filter.
  const baselines: BaselineResult[] = [];
  for (const name of settings.baselines) {
    await step(0.95, `baseline ${name}`);
    baselines.push(await runBaseline(name, list, distances.matrix, meter.drop, settings, signal));
  }
  progress(1, 'done');

  return {
    method: 'degenerate-knowledge-neurons',
    settings,
    prompts: allPrompts.length,
    promptsUsed: items.length,
    targetIds: [...fact.targetIds],
    neuronSource: fact.neurons ? 'given' : 'attribution',
    p0: meter.p0,
    p0PerPrompt: meter.p0PerPrompt,
    neurons,
    distances: { ...summarizeDistances(distances.matrix, list.length, settings.clustering.infThreshold), matrix },
    clustering,
    clusters,
    filter,
    bdcs,
    jointDrop: filter.jointDrop,
    analysis,
    controls,
    baselines,
    verdict: { dkn: filter.exists, reason: filter.reason },
    patchedPasses: meter.evaluations(),
    seconds: (performance.now() - started) / 1000,
  };
}

async function runBaseline(name: BaselineName, list: Neuron[], matrix: Float32Array, drop: (n: Neuron[]) => Promise<number>, settings: DknSettings, signal?: AbortSignal): Promise<BaselineResult> {
  const n = list.length;
  let groups: number[][];
  let details: Record<string, number | null>;
  let pairwise: PairwiseResult | undefined;
  if (name === 'pairwise') {
    pairwise = await pairwiseBaseline(list, drop, { thresholdLow: settings.filter.thresholdLow }, signal);
    groups = pairwise.pairs.map((p) => [...p]);
    details = { top: pairwise.settings.top, thresholdHigh: pairwise.settings.thresholdHigh };
  } else if (name === 'hierarchical') {
    const r = hierarchicalClusters(matrix, n);
    groups = r.clusters;
    details = { threshold: r.threshold };
  } else if (name === 'dbscan') {
    const r = dbscanClusters(matrix, n);
    groups = r.clusters;
    details = { eps: r.eps, minSamples: r.minSamples };
  } else {
    const r = kmeansClusters(matrix, n, { seed: settings.seed });
    groups = r.clusters;
    details = { k: r.k, components: r.components };
  }
  const clusters = groups.map((g) => toCluster(g, list));
  if (pairwise) {
    // Each taken pair already is a degenerate pair of single-neuron components (both alone
    // < thresholdLow, together > thresholdHigh); the cluster filter (|B| ≥ 2) does not apply.
    return { name, details, clusters, filter: null, dkn: pairwise.pairs.length > 0, pairwise };
  }
  const filter = await functionalFilter(clusters.map((c) => c.neurons), drop, settings.filter, signal);
  return { name, details, clusters, filter, dkn: filter.exists };
}
