/**
 * Structural distances between knowledge neurons (methods.md §4.3 Step 2, D6).
 *
 * For neurons A (lower layer) and B (upper layer) in adjacent layers the connection weight is
 * w = v_A · k_B, with v_A the value vector of A (row A of `h.{L_A}.mlp.c_proj.weight`, the
 * internal W_out) and k_B the key of B (column B of `h.{L_B}.mlp.c_fc.weight`, W_in), and the
 * distance is d = |1/w| (∞ when w = 0). Neurons of one layer are ∞ apart, and so are neurons
 * more than `maxSpan` layers apart. Spans ≥ 2 are shortest summed paths through located
 * knowledge neurons of the layers in between:
 *
 * - `'project'` (D6): the path visits exactly one located neuron in every intermediate layer,
 *   d = min_C d(A,C) + d(C,B) for span 2, min_{C,D} d(A,C) + d(C,D) + d(D,B) for span 3
 *   (and the same layer-by-layer recursion for longer spans when `maxSpan` > 3).
 * - `'dkn-code'` (the released code's rule, §4.3 "path quirk"; checked against heng840/DKN
 *   knowledge_neurons/dkn.py `compute_distance_between_neurons`): ∞ unless every intermediate
 *   layer holds a located neuron; otherwise every `maxSpan − 1`-subset of the intermediate
 *   neurons (Python's `itertools.combinations` over the neuron list, so 2 neurons with the
 *   default maxSpan 3) is a candidate path once stably sorted by layer — so the list order of
 *   neurons in different layers does not matter, and within one layer the earlier neuron comes
 *   first — kept when its first neuron is in layer L_A+1 and its last in L_B−1. The length is
 *   hop(A,P1) + Σ hop(Pk,Pk+1) + hop(Pm,B), every hop |1/(v_first · k_second)| whatever the
 *   layers. For span 2 with maxSpan 3 both path neurons lie in the middle layer (a lone
 *   middle-layer neuron gives ∞); with maxSpan 2 the path is the one middle neuron.
 *
 * The matrix is a Float32Array n×n, symmetric, diagonal 0, with 1000 for ∞; finite distances
 * are clamped to 1000 as well, so every value ≥ 1000 means "not connected".
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError } from '../errors';
import { checkNeuron, neuronKey, type Neuron } from '../knowledge/refine';
import type { Gpt2Weights } from '../model/weights';
import { binomial, combinations } from './analysis';

export type PathRule = 'project' | 'dkn-code';

/** The distance matrix's stand-in for ∞ (the code's 1000). */
export const INFINITE_DISTANCE = 1000;

/** Most candidate paths the dkn-code rule enumerates for one pair (it grows as C(n, maxSpan − 1)). */
const MAX_CODE_PATHS = 1_000_000;

export interface DistanceOptions {
  /** Largest layer span with a finite distance (code: 3). */
  maxSpan?: number;
  pathRule?: PathRule;
}

export interface NeuronDistances {
  neurons: Neuron[];
  n: number;
  /** Row-major n×n; symmetric, diagonal 0, INFINITE_DISTANCE for ∞. */
  matrix: Float32Array;
  maxSpan: number;
  pathRule: PathRule;
}

export interface NeuronVectors {
  /** Value vector v (row of W_out) per neuron, in the order of the neuron list. */
  values: Float32Array[];
  /** Key vector k (column of W_in) per neuron. */
  keys: Float32Array[];
}

/**
 * Value and key vectors of the given neurons. The rows and columns are gathered on the device
 * and read with one asynchronous `data()` call (WebGPU in a worker cannot read synchronously).
 */
export async function neuronVectors(weights: Gpt2Weights, neurons: Neuron[]): Promise<NeuronVectors> {
  const n = neurons.length;
  if (n === 0) return { values: [], keys: [] };
  const d = weights.config.nEmbd;
  const byLayer = new Map<number, number[]>();
  neurons.forEach(([layer], k) => byLayer.set(layer, [...(byLayer.get(layer) ?? []), k]));
  const order: number[] = [];
  const stacked = tf.tidy(() => {
    const values: tf.Tensor[] = [];
    const keys: tf.Tensor[] = [];
    for (const [layer, members] of byLayer) {
      const fc = weights.params.get(`h.${layer}.mlp.c_fc.weight`);
      const proj = weights.params.get(`h.${layer}.mlp.c_proj.weight`);
      if (!fc || !proj) throw new FactlabError('bad-neurons', `The model has no FFN weights for layer ${layer}.`);
      const indices = tf.tensor1d(members.map((k) => neurons[k][1]), 'int32');
      values.push(tf.gather(proj, indices, 0));
      keys.push(tf.transpose(tf.gather(fc, indices, 1)));
      order.push(...members);
    }
    return tf.concat([...values, ...keys], 0);
  });
  const data = (await stacked.data()) as Float32Array;
  stacked.dispose();
  const values: Float32Array[] = new Array(n);
  const keys: Float32Array[] = new Array(n);
  order.forEach((k, row) => {
    values[k] = data.slice(row * d, (row + 1) * d);
    keys[k] = data.slice((n + row) * d, (n + row + 1) * d);
  });
  return { values, keys };
}

/** |1/w|, or ∞ when w is 0 (or not finite). */
export function hopDistance(w: number): number {
  return w === 0 || !Number.isFinite(w) ? Infinity : Math.abs(1 / w);
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Distances from value/key vectors (no tensors): the part of `neuronDistances` that tests can
 * drive with hand-built vectors.
 */
export function distancesFromVectors(neurons: Neuron[], vectors: NeuronVectors, options: DistanceOptions = {}): NeuronDistances {
  const maxSpan = options.maxSpan ?? 3;
  const pathRule = options.pathRule ?? 'project';
  if (!Number.isInteger(maxSpan) || maxSpan < 1) throw new FactlabError('bad-option', `maxSpan must be a positive integer, got ${maxSpan}.`);
  if (pathRule !== 'project' && pathRule !== 'dkn-code') throw new FactlabError('bad-option', `pathRule must be project or dkn-code, got "${String(pathRule)}".`);
  const n = neurons.length;
  const hopCache = new Map<number, number>();
  // hop(a, b) = |1/(v_a · k_b)|: a is the lower (sending) neuron, b the upper (receiving) one.
  const hop = (a: number, b: number): number => {
    const key = a * n + b;
    let h = hopCache.get(key);
    if (h === undefined) {
      h = hopDistance(dot(vectors.values[a], vectors.keys[b]));
      hopCache.set(key, h);
    }
    return h;
  };
  const layerOf = (k: number) => neurons[k][0];
  const inLayer = new Map<number, number[]>();
  neurons.forEach(([layer], k) => inLayer.set(layer, [...(inLayer.get(layer) ?? []), k]));

  const projectPath = (a: number, b: number): number => {
    // Layer-by-layer shortest path, one located neuron per intermediate layer.
    let frontier = new Map<number, number>([[a, 0]]);
    for (let layer = layerOf(a) + 1; layer < layerOf(b); layer++) {
      const next = new Map<number, number>();
      for (const c of inLayer.get(layer) ?? []) {
        let best = Infinity;
        for (const [p, dist] of frontier) best = Math.min(best, dist + hop(p, c));
        if (best < Infinity) next.set(c, best);
      }
      if (next.size === 0) return Infinity;
      frontier = next;
    }
    let best = Infinity;
    for (const [p, dist] of frontier) best = Math.min(best, dist + hop(p, b));
    return best;
  };

  const codePath = (a: number, b: number): number => {
    const la = layerOf(a);
    const lb = layerOf(b);
    const intermediate: number[] = [];
    for (let k = 0; k < n; k++) if (layerOf(k) > la && layerOf(k) < lb) intermediate.push(k);
    if (new Set(intermediate.map(layerOf)).size < lb - la - 1) return Infinity;
    const pathLength = maxSpan - 1;
    if (binomial(intermediate.length, pathLength) > MAX_CODE_PATHS) {
      throw new FactlabError('bad-option', `The dkn-code path rule would try C(${intermediate.length}, ${pathLength}) paths between two neurons; use a smaller maxSpan or the project rule.`);
    }
    let best = Infinity;
    for (const pick of combinations(intermediate.length, pathLength)) {
      // Array.prototype.sort is stable, like Python's sorted: same-layer neurons keep list order.
      const path = pick.map((x) => intermediate[x]).sort((x, y) => layerOf(x) - layerOf(y));
      if (layerOf(path[0]) !== la + 1 || layerOf(path[path.length - 1]) !== lb - 1) continue;
      let d = hop(a, path[0]) + hop(path[path.length - 1], b);
      for (let k = 0; k + 1 < path.length; k++) d += hop(path[k], path[k + 1]);
      best = Math.min(best, d);
    }
    return best;
  };

  const matrix = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const [a, b] = layerOf(i) <= layerOf(j) ? [i, j] : [j, i];
      const span = layerOf(b) - layerOf(a);
      let d = Infinity;
      if (span === 1) d = hop(a, b);
      else if (span >= 2 && span <= maxSpan) d = pathRule === 'project' ? projectPath(a, b) : codePath(a, b);
      const stored = Math.min(d, INFINITE_DISTANCE);
      matrix[i * n + j] = stored;
      matrix[j * n + i] = stored;
    }
  }
  return { neurons: neurons.map(([l, i]) => [l, i] as Neuron), n, matrix, maxSpan, pathRule };
}

/** Pairwise distances of the located knowledge neurons (methods.md §4.3 Step 2). */
export async function neuronDistances(weights: Gpt2Weights, neurons: Neuron[], options: DistanceOptions = {}): Promise<NeuronDistances> {
  const seen = new Set<string>();
  for (const neuron of neurons) {
    checkNeuron(neuron, weights.config.nLayer, weights.config.nInner);
    const key = neuronKey(neuron);
    if (seen.has(key)) throw new FactlabError('bad-neurons', `Neuron ${key} appears twice in the list.`);
    seen.add(key);
  }
  return distancesFromVectors(neurons, await neuronVectors(weights, neurons), options);
}

export interface DistanceSummary {
  n: number;
  /** Unordered pairs i < j. */
  pairs: number;
  /** Pairs with a distance below the finite cut (code: < 100). */
  finitePairs: number;
  min: number | null;
  median: number | null;
  max: number | null;
}

/** Counts and order statistics of the finite upper-triangle distances. */
export function summarizeDistances(matrix: ArrayLike<number>, n: number, infThreshold = 100): DistanceSummary {
  const finite: number[] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (matrix[i * n + j] < infThreshold) finite.push(matrix[i * n + j]);
  finite.sort((a, b) => a - b);
  const m = finite.length;
  const median = m === 0 ? null : m % 2 ? finite[(m - 1) / 2] : (finite[m / 2 - 1] + finite[m / 2]) / 2;
  return { n, pairs: n > 1 ? (n * (n - 1)) / 2 : 0, finitePairs: m, min: m ? finite[0] : null, median, max: m ? finite[m - 1] : null };
}
