/**
 * Baselines of the DKN paper (methods.md §4.4). Each returns groups of neuron indices of size ≥ 2,
 * which then go through the same functional filter as the topology clusters. K-means on a PCA
 * of the adjacency rows is in kmeans.ts.
 *
 * - `pairwiseBaseline` (AAAI 2024, `get_dkn_src`): the first `top` (15) knowledge neurons; keep
 *   those whose single suppression drops the probability by < thresholdLow (0.05); then take
 *   pairs of kept neurons whose joint suppression drops it by > thresholdHigh (0.3), greedily and
 *   disjoint, in `combinations` order (i < j over the list order; our reading of "greedy").
 * - `hierarchicalClusters`: average linkage (UPGMA) on the full distance matrix (∞ = 1000 included),
 *   flat clusters cut at quantile 0.7 of the condensed distances (scipy `fcluster`, criterion
 *   'distance': merges at heights ≤ t). Ties between equal linkage distances go to the pair with
 *   the lowest indices.
 * - `dbscanClusters`: precomputed distances, eps = quantile 0.5 of every point's nearest-neighbour
 *   distance, min_samples = max(2, ⌊3% n⌋); a point's neighbourhood includes itself and uses
 *   d ≤ eps (as scikit-learn does); clusters grow from core points in index order.
 */
import { throwIfAborted } from '../errors';
import type { Neuron } from '../knowledge/refine';
import { quantile } from './clustering';
import type { DropFn } from './filter';

export interface PairwiseSettings {
  top: number;
  thresholdLow: number;
  thresholdHigh: number;
}

export const DEFAULT_PAIRWISE: PairwiseSettings = { top: 15, thresholdLow: 0.05, thresholdHigh: 0.3 };

export interface PairwiseResult {
  settings: PairwiseSettings;
  /** Drop of each of the first `top` neurons suppressed alone (index into the neuron list). */
  singles: Array<{ index: number; drop: number; kept: boolean }>;
  /** Every pair tested, in order, and whether it was taken. */
  tested: Array<{ members: [number, number]; drop: number; taken: boolean }>;
  /** The disjoint pairs taken (each a degenerate pair of single neurons). */
  pairs: Array<[number, number]>;
}

export async function pairwiseBaseline(neurons: Neuron[], drop: DropFn, options: Partial<PairwiseSettings> = {}, signal?: AbortSignal): Promise<PairwiseResult> {
  const settings = { ...DEFAULT_PAIRWISE, ...options };
  const first = neurons.slice(0, settings.top);
  const singles: PairwiseResult['singles'] = [];
  for (let k = 0; k < first.length; k++) {
    throwIfAborted(signal, 'pairwise baseline');
    const d = await drop([first[k]]);
    singles.push({ index: k, drop: d, kept: d < settings.thresholdLow });
  }
  const kept = singles.filter((s) => s.kept).map((s) => s.index);
  const used = new Set<number>();
  const tested: PairwiseResult['tested'] = [];
  const pairs: Array<[number, number]> = [];
  for (let x = 0; x < kept.length; x++) {
    for (let y = x + 1; y < kept.length; y++) {
      const a = kept[x];
      const b = kept[y];
      if (used.has(a)) break;
      if (used.has(b)) continue;
      throwIfAborted(signal, 'pairwise baseline');
      const d = await drop([neurons[a], neurons[b]]);
      const taken = d > settings.thresholdHigh;
      tested.push({ members: [a, b], drop: d, taken });
      if (taken) {
        used.add(a).add(b);
        pairs.push([a, b]);
      }
    }
  }
  return { settings, singles, tested, pairs };
}

/** Upper-triangle (condensed) distances, row-major as scipy's `squareform`. */
export function condensed(matrix: ArrayLike<number>, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out.push(matrix[i * n + j]);
  return out;
}

/** Groups (size ≥ 2) of a label array, ordered by their smallest member; labels < 0 are noise. */
export function groupsFromLabels(labels: number[]): number[][] {
  const groups = new Map<number, number[]>();
  labels.forEach((label, k) => {
    if (label >= 0) groups.set(label, [...(groups.get(label) ?? []), k]);
  });
  return [...groups.values()].filter((g) => g.length >= 2).sort((a, b) => a[0] - b[0]);
}

/** Average-linkage clusters cut at `cutQuantile` of the condensed distances (default 0.7). */
export function hierarchicalClusters(matrix: ArrayLike<number>, n: number, cutQuantile = 0.7): { threshold: number | null; clusters: number[][] } {
  if (n < 2) return { threshold: null, clusters: [] };
  const threshold = quantile(condensed(matrix, n), cutQuantile);
  let active: Array<{ members: number[] }> = Array.from({ length: n }, (_, k) => ({ members: [k] }));
  // Cluster distances, updated by the Lance–Williams rule for average linkage.
  let dist: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => matrix[i * n + j]));
  while (active.length > 1) {
    let best = Infinity;
    let bi = -1;
    let bj = -1;
    for (let i = 0; i < active.length; i++) for (let j = i + 1; j < active.length; j++) if (dist[i][j] < best) [best, bi, bj] = [dist[i][j], i, j];
    if (!(best <= threshold)) break;
    const ni = active[bi].members.length;
    const nj = active[bj].members.length;
    const merged = { members: [...active[bi].members, ...active[bj].members].sort((a, b) => a - b) };
    const keep = active.map((_, k) => k).filter((k) => k !== bi && k !== bj);
    const row = keep.map((k) => (ni * dist[bi][k] + nj * dist[bj][k]) / (ni + nj));
    const nextDist = keep.map((a, x) => [...keep.map((b) => dist[a][b]), row[x]]);
    nextDist.push([...row, 0]);
    active = [...keep.map((k) => active[k]), merged];
    dist = nextDist;
  }
  const labels = Array(n).fill(-1);
  active.forEach((c, label) => c.members.forEach((k) => (labels[k] = label)));
  return { threshold, clusters: groupsFromLabels(labels) };
}

/** DBSCAN on precomputed distances with the §4.4 parameter choices. */
export function dbscanClusters(matrix: ArrayLike<number>, n: number, options: { epsQuantile?: number; minSamplesFraction?: number } = {}): { eps: number | null; minSamples: number; clusters: number[][] } {
  const minSamples = Math.max(2, Math.floor((options.minSamplesFraction ?? 0.03) * n));
  if (n < 2) return { eps: null, minSamples, clusters: [] };
  const nearest = Array.from({ length: n }, (_, i) => {
    let best = Infinity;
    for (let j = 0; j < n; j++) if (j !== i) best = Math.min(best, matrix[i * n + j]);
    return best;
  });
  const eps = quantile(nearest, options.epsQuantile ?? 0.5);
  const neighbours = Array.from({ length: n }, (_, i) => {
    const out: number[] = [];
    for (let j = 0; j < n; j++) if (j === i || matrix[i * n + j] <= eps) out.push(j);
    return out;
  });
  const core = neighbours.map((nb) => nb.length >= minSamples);
  const labels = Array(n).fill(-1);
  let next = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i] !== -1 || !core[i]) continue;
    const label = next++;
    labels[i] = label;
    const stack = [i];
    while (stack.length) {
      const p = stack.pop()!;
      if (!core[p]) continue;
      for (const q of neighbours[p]) {
        if (labels[q] === -1) {
          labels[q] = label;
          stack.push(q);
        }
      }
    }
  }
  return { eps, minSamples, clusters: groupsFromLabels(labels) };
}
