/**
 * Degeneracy analysis (methods.md §4.3 Step 5) and random-neuron controls.
 *
 * For n passing clusters (base degenerate components), drop(S) is measured for every proper
 * non-empty subset S (2^n − 2 patched passes) — or, when n > `maxExhaustive` (12), for up to
 * `samplesPerSize` (64) distinct subsets per size drawn uniformly with the seeded RNG — then the
 * mean drop per subset size k = 1..n−1 and drop(all). Degeneracy shows as small drops for proper
 * subsets and a large one for all of them.
 *
 * Controls (our choice): for each passing cluster, and for all of them together, a random set of
 * neurons of the same size in the same layers (each neuron replaced by a uniformly drawn neuron
 * of its own layer, never a located knowledge neuron, no repeats), measured `repeats` times.
 */
import { FactlabError, throwIfAborted, yieldToEventLoop } from '../errors';
import { neuronKey, type Neuron } from '../knowledge/refine';
import { makeRng, type Rng } from '../random';
import type { DropFn } from './filter';

export interface AnalysisSettings {
  maxExhaustive: number;
  samplesPerSize: number;
  seed: number;
}

export const DEFAULT_ANALYSIS: AnalysisSettings = { maxExhaustive: 12, samplesPerSize: 64, seed: 42 };

export interface SubsetDrop {
  /** Indices into the list of passing clusters, ascending. */
  members: number[];
  size: number;
  drop: number;
}

export interface DegeneracyAnalysis {
  settings: AnalysisSettings;
  clusters: number;
  exhaustive: boolean;
  subsets: SubsetDrop[];
  meanBySize: Array<{ size: number; mean: number; count: number }>;
  all: number | null;
}

export function binomial(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  const m = Math.min(k, n - k);
  let r = 1;
  for (let i = 1; i <= m; i++) r = (r * (n - m + i)) / i;
  return Math.round(r);
}

/** All k-subsets of 0..n−1 in lexicographic order. */
export function combinations(n: number, k: number): number[][] {
  const out: number[][] = [];
  const pick: number[] = [];
  const rec = (start: number) => {
    if (pick.length === k) return void out.push([...pick]);
    for (let i = start; i <= n - (k - pick.length); i++) {
      pick.push(i);
      rec(i + 1);
      pick.pop();
    }
  };
  rec(0);
  return out;
}

/** A uniformly random k-subset of 0..n−1 (partial Fisher–Yates), ascending. */
export function randomSubset(n: number, k: number, rng: Rng): number[] {
  const items = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (n - i));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items.slice(0, k).sort((a, b) => a - b);
}

/** The proper non-empty subsets to measure, by size: all of them, or a seeded sample per size. */
export function subsetsToMeasure(n: number, settings: AnalysisSettings): { exhaustive: boolean; subsets: number[][] } {
  const exhaustive = n <= settings.maxExhaustive;
  const rng = makeRng(settings.seed);
  const subsets: number[][] = [];
  for (let k = 1; k < n; k++) {
    if (exhaustive || binomial(n, k) <= settings.samplesPerSize) {
      subsets.push(...combinations(n, k));
      continue;
    }
    const seen = new Set<string>();
    while (seen.size < settings.samplesPerSize) {
      const s = randomSubset(n, k, rng);
      const key = s.join(',');
      if (seen.has(key)) continue;
      seen.add(key);
      subsets.push(s);
    }
  }
  return { exhaustive, subsets };
}

export async function degeneracyAnalysis(
  clusters: Neuron[][],
  drop: DropFn,
  options: Partial<AnalysisSettings> = {},
  callbacks: { signal?: AbortSignal; onProgress?: (fraction: number) => void } = {},
): Promise<DegeneracyAnalysis> {
  const settings = { ...DEFAULT_ANALYSIS, ...options };
  const n = clusters.length;
  const { exhaustive, subsets: plan } = subsetsToMeasure(n, settings);
  const subsets: SubsetDrop[] = [];
  for (const [k, members] of plan.entries()) {
    throwIfAborted(callbacks.signal, 'degeneracy analysis');
    subsets.push({ members, size: members.length, drop: await drop(members.flatMap((m) => clusters[m])) });
    callbacks.onProgress?.((k + 1) / (plan.length + 1));
    if (k % 8 === 7) await yieldToEventLoop();
  }
  throwIfAborted(callbacks.signal, 'degeneracy analysis');
  const all = n ? await drop(clusters.flat()) : null;
  callbacks.onProgress?.(1);
  const meanBySize: DegeneracyAnalysis['meanBySize'] = [];
  for (let size = 1; size < n; size++) {
    const drops = subsets.filter((s) => s.size === size).map((s) => s.drop);
    meanBySize.push({ size, mean: drops.reduce((a, b) => a + b, 0) / Math.max(drops.length, 1), count: drops.length });
  }
  return { settings, clusters: n, exhaustive, subsets, meanBySize, all };
}

export interface ControlSettings {
  repeats: number;
  seed: number;
}

export const DEFAULT_CONTROLS: ControlSettings = { repeats: 3, seed: 42 };

export interface ControlDrop {
  /** Index of the passing cluster, or 'all' for the union of the passing clusters. */
  target: number | 'all';
  size: number;
  drops: number[];
  mean: number;
  /** The random sets used (for recomputation and display). */
  sets: Neuron[][];
}

export interface RandomControls {
  settings: ControlSettings;
  controls: ControlDrop[];
}

/** A random neuron set with the same layers as `like`, avoiding `exclude` and repeats. */
export function matchedRandomNeurons(like: Neuron[], width: number, exclude: Set<string>, rng: Rng): Neuron[] {
  const taken = new Set(exclude);
  return like.map(([layer]) => {
    const free = width - [...taken].filter((k) => k.startsWith(`${layer}:`)).length;
    if (free <= 0) throw new FactlabError('bad-neurons', `Layer ${layer} has no neuron left for a random control.`);
    for (;;) {
      const neuron: Neuron = [layer, Math.floor(rng() * width)];
      const key = neuronKey(neuron);
      if (taken.has(key)) continue;
      taken.add(key);
      return neuron;
    }
  });
}

export async function randomControls(
  clusters: Neuron[][],
  located: Neuron[],
  width: number,
  drop: DropFn,
  options: Partial<ControlSettings> = {},
  signal?: AbortSignal,
): Promise<RandomControls> {
  const settings = { ...DEFAULT_CONTROLS, ...options };
  const rng = makeRng(settings.seed);
  const exclude = new Set(located.map(neuronKey));
  const targets: Array<{ target: number | 'all'; like: Neuron[] }> = clusters.map((like, k) => ({ target: k, like }));
  if (clusters.length > 1) targets.push({ target: 'all', like: clusters.flat() });
  const controls: ControlDrop[] = [];
  for (const { target, like } of targets) {
    const sets: Neuron[][] = [];
    const drops: number[] = [];
    for (let r = 0; r < settings.repeats; r++) {
      throwIfAborted(signal, 'random controls');
      const set = matchedRandomNeurons(like, width, exclude, rng);
      sets.push(set);
      drops.push(await drop(set));
    }
    controls.push({ target, size: like.length, drops, mean: drops.reduce((a, b) => a + b, 0) / Math.max(drops.length, 1), sets });
    await yieldToEventLoop();
  }
  return { settings, controls };
}
