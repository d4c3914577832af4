/**
 * Weight masks of knowledge-critical subnetworks (methods.md §5.2, D7, appendix 7).
 *
 * One logit s per weight of `attn.c_attn`, `attn.c_proj`, `mlp.c_fc` and `mlp.c_proj` in the
 * masked layers (default: the upper half, ⌈n_layer/2⌉ layers). Sampling, as in the released code
 * except that the logistic noise g comes from one counter-based uniform (see `logisticNoise`)
 * rather than the code's −log(log u₁ / log u₀) of two:
 *
 *   g ~ Logistic(0, 1)
 *   soft = σ((s + g)/τ)  (train)        soft = σ(s)  (eval, no noise)
 *   remaining view: soft := 1 − soft
 *   hard = 1[soft > 0.5];  forward value = hard, backward = d soft / d s      (straight-through)
 *
 * The subnetwork mask is m; the remaining model uses W ⊙ (1 − m). In eval mode the subnetwork
 * mask is 1[s > 0] and the remaining mask is exactly 1 − 1[s > 0], so the two views partition the
 * weights. (In train mode the remaining hard mask is 1[1 − soft > 0.5], the code's expression; the
 * two differ only where soft is exactly 0.5 in float32.) At init σ(s) = 0.45 < 0.5, so in eval
 * mode the subnetwork is empty and the remaining model is the full model.
 *
 * Sparsity is the fraction of zero entries of the subnetwork mask 1[s > 0].
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError } from '../errors';
import type { Gpt2Config } from '../model/config';
import { MASKABLE_MATRICES, type MaskableMatrix } from '../model/weights';
import type { Rng } from '../random';

export const DEFAULT_INIT_P = 0.45;

export type MaskMode = 'train' | 'eval';
/** 'remaining': W ⊙ (1 − m), the model without the subnetwork; 'subnetwork': W ⊙ m. */
export type MaskView = 'remaining' | 'subnetwork';
export type MaskDims = Pick<Gpt2Config, 'nLayer' | 'nEmbd' | 'nInner'>;

export interface MaskEntry {
  /** Parameter name, e.g. `h.3.mlp.c_fc.weight` (the key of `forward(…, { masks })`). */
  name: string;
  layer: number;
  matrix: MaskableMatrix;
  shape: [number, number];
  size: number;
}

export interface MaskState {
  dims: MaskDims;
  layers: number[];
  /** One entry per masked matrix, layer by layer in MASKABLE_MATRICES order. */
  entries: MaskEntry[];
  /** The trainable logits s, by parameter name. */
  logits: Map<string, tf.Variable>;
  initP: number;
  temperature: number;
}

export interface MaskOptions {
  /** Masked layers; default the top ⌈n_layer/2⌉ (`topLayers` picks another count of top layers). */
  layers?: number[];
  topLayers?: number;
  initP?: number;
  temperature?: number;
  /** Start from these logits instead of logit(initP) (e.g. an imported checkpoint). */
  initial?: Map<string, Float32Array>;
}

export const logit = (p: number): number => Math.log(p / (1 - p));

/** The top `k` layers [n − k, n − 1]; k defaults to ⌈n/2⌉ (D7). */
export function topLayers(nLayer: number, k = Math.ceil(nLayer / 2)): number[] {
  if (!Number.isInteger(k) || k < 1 || k > nLayer) {
    throw new FactlabError('bad-mask-layers', `The number of masked top layers must be between 1 and ${nLayer}, got ${k}.`);
  }
  return Array.from({ length: k }, (_, i) => nLayer - k + i);
}

export function maskParamShape(dims: MaskDims, matrix: MaskableMatrix): [number, number] {
  const d = dims.nEmbd;
  switch (matrix) {
    case 'attn.c_attn': return [d, 3 * d];
    case 'attn.c_proj': return [d, d];
    case 'mlp.c_fc': return [d, dims.nInner];
    case 'mlp.c_proj': return [dims.nInner, d];
  }
}

/** The masked matrices of the given layers, validated against the model's layer count. */
export function maskEntries(dims: MaskDims, layers: number[]): MaskEntry[] {
  if (layers.length === 0) throw new FactlabError('bad-mask-layers', 'At least one layer must be masked.');
  const sorted = [...new Set(layers)].sort((a, b) => a - b);
  if (sorted.length !== layers.length) throw new FactlabError('bad-mask-layers', `Masked layers repeat: [${layers.join(', ')}].`);
  for (const l of sorted) {
    if (!Number.isInteger(l) || l < 0 || l >= dims.nLayer) {
      throw new FactlabError('bad-mask-layers', `Layer ${l} is out of range; the model has layers 0–${dims.nLayer - 1}.`);
    }
  }
  return sorted.flatMap((layer) =>
    MASKABLE_MATRICES.map((matrix) => {
      const shape = maskParamShape(dims, matrix);
      return { name: `h.${layer}.${matrix}.weight`, layer, matrix, shape, size: shape[0] * shape[1] };
    }),
  );
}

export function createMaskState(dims: MaskDims, options: MaskOptions = {}): MaskState {
  const layers = options.layers ? [...options.layers].sort((a, b) => a - b) : topLayers(dims.nLayer, options.topLayers);
  const initP = options.initP ?? DEFAULT_INIT_P;
  if (!(initP > 0 && initP < 1)) throw new FactlabError('bad-mask-settings', `The initial mask probability must be in (0, 1), got ${initP}.`);
  const temperature = options.temperature ?? 1;
  if (!(temperature > 0)) throw new FactlabError('bad-mask-settings', `The temperature must be positive, got ${temperature}.`);
  const entries = maskEntries(dims, layers);
  const logits = new Map<string, tf.Variable>();
  for (const e of entries) {
    const given = options.initial?.get(e.name);
    if (options.initial && !given) throw new FactlabError('bad-mask-file', `The initial logits have no tensor for ${e.name}.`);
    if (given && given.length !== e.size) throw new FactlabError('bad-mask-file', `The initial logits of ${e.name} have ${given.length} values; [${e.shape.join(', ')}] needs ${e.size}.`);
    const init = tf.tidy(() => (given ? tf.tensor2d(given, e.shape) : tf.fill(e.shape, logit(initP))));
    logits.set(e.name, tf.variable(init, true));
    init.dispose();
  }
  return { dims: { nLayer: dims.nLayer, nEmbd: dims.nEmbd, nInner: dims.nInner }, layers, entries, logits, initP, temperature };
}

export function disposeMaskState(state: MaskState): void {
  for (const v of state.logits.values()) v.dispose();
  state.logits.clear();
}

export function totalMaskSize(state: Pick<MaskState, 'entries'>): number {
  return state.entries.reduce((a, e) => a + e.size, 0);
}

/** A 32-bit integer hash (lowbias32): a bijection of [0, 2³²) with good avalanche. */
function hash32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Combines integers into one 32-bit noise key, e.g. (seed, step, pass, matrix). */
export function noiseKey(...parts: number[]): number {
  let key = 0x2545f491;
  for (const p of parts) key = hash32((key ^ hash32(p >>> 0)) + 0x9e3779b9);
  return key;
}

/**
 * `n` uniforms in (0, 1) of the form (2k + 1)/2²⁴, k < 2²³, so u and 1 − u are exact in float32
 * (the logistic tails stop at ±16.6, as the code's ε = 1e−10 stops them at ±23). Counter-based:
 * value i depends only on (key, i), so any step's noise is recomputed without replaying the
 * earlier ones (exact resume) and costs two integer hashes per value.
 */
export function noiseUniforms(key: number, n: number): Float32Array {
  const k1 = hash32(key);
  const k2 = hash32(k1 ^ 0x68e31da4);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((hash32((hash32(i ^ k1) + k2) >>> 0) >>> 9) * 2 + 1) / 16777216;
  return out;
}

/**
 * Logistic noise g = log u − log(1 − u) for one matrix, computed on the backend from
 * `noiseUniforms(key)`. Same distribution as the code's −log(log u₁ / log u₀) (a difference of
 * two Gumbels is logistic), from one uniform instead of two and without JS transcendentals.
 */
export function logisticNoise(key: number, shape: [number, number]): tf.Tensor2D {
  return tf.tidy(() => {
    const u = tf.tensor2d(noiseUniforms(key, shape[0] * shape[1]), shape);
    return tf.sub(tf.log(u), tf.log(tf.sub(1, u))) as tf.Tensor2D;
  });
}

/** A fresh key from a seeded RNG (for callers that hold an RNG rather than a key). */
const keyFrom = (rng: Rng) => Math.floor(rng() * 4294967296);

/** One noise tensor per masked matrix (in entry order), from `key` or a fresh key of `rng`. Caller disposes. */
export function sampleNoise(state: MaskState, source: Rng | number): Map<string, tf.Tensor> {
  const key = typeof source === 'number' ? source : keyFrom(source);
  return new Map(state.entries.map((e, i) => [e.name, logisticNoise(noiseKey(key, i), e.shape)]));
}

const noisySigmoid = (s: tf.Tensor, noise: tf.Tensor | null, temperature: number) => tf.sigmoid(tf.div(noise ? tf.add(s, noise) : s, temperature));
/** 1[soft > 0.5] of the view, soft = σ (subnetwork) or 1 − σ (remaining). */
const hardMask = (sigma: tf.Tensor, view: MaskView) => tf.cast(tf.greater(view === 'remaining' ? tf.sub(1, sigma) : sigma, 0.5), 'float32');
/** ∂soft/∂s = ±σ(1 − σ)/τ. */
const softSlope = (sigma: tf.Tensor, temperature: number, view: MaskView) => tf.div(tf.mul(sigma, tf.sub(1, sigma)), view === 'remaining' ? -temperature : temperature);

/**
 * Straight-through hard mask: the value is 1[soft > 0.5] of the chosen view, with
 * soft = σ((s + g)/τ) (1 − that for 'remaining'); the gradient w.r.t. s is that of soft,
 * ±σ'(z)/τ. `noise` null means no noise (z = s/τ).
 */
export function straightThroughMask(logits: tf.Tensor, noise: tf.Tensor | null, temperature: number, view: MaskView): tf.Tensor {
  const op = tf.customGrad((s, save) => {
    const sigma = noisySigmoid(s as tf.Tensor, noise, temperature);
    (save as tf.GradSaveFunc)([sigma]);
    return { value: hardMask(sigma, view), gradFunc: (dy, [sg]) => tf.mul(dy as tf.Tensor, softSlope(sg, temperature, view)) };
  });
  return op(logits);
}

/**
 * The straight-through mask's value and its slope ∂soft/∂s, for applying the chain rule by hand
 * (∂L/∂s = ∂L/∂mask ⊙ slope) without a tape; the same numbers `straightThroughMask` uses. Caller disposes.
 */
export function straightThroughParts(logits: tf.Tensor, noise: tf.Tensor | null, temperature: number, view: MaskView): { mask: tf.Tensor; slope: tf.Tensor } {
  return tf.tidy(() => {
    const sigma = noisySigmoid(logits, noise, temperature);
    return { mask: hardMask(sigma, view), slope: softSlope(sigma, temperature, view) };
  });
}

/** The deterministic eval mask of one matrix: 1[s > 0] (subnetwork) or 1 − 1[s > 0] (remaining). */
export function evalMask(logits: tf.Tensor, view: MaskView): tf.Tensor {
  return tf.tidy(() => {
    const kept = tf.cast(tf.greater(logits, 0), 'float32');
    return view === 'subnetwork' ? kept : tf.sub(1, kept);
  });
}

export interface ForwardMaskOptions {
  mode: MaskMode;
  view: MaskView;
  /** Train mode: noise from this key (`noiseKey`; the same key gives the same sample)… */
  noiseKey?: number;
  /** …or from a fresh key drawn from this RNG (one new sample per call)… */
  rng?: Rng;
  /** …or taken from here (`sampleNoise`), e.g. to share one sample between several forward passes. */
  noise?: Map<string, tf.Tensor>;
}

/**
 * Masks to pass as `forward(weights, tokens, { masks })`. Train mode is differentiable w.r.t.
 * the logits (call it inside the function given to `tf.variableGrads`); eval mode is not.
 * The caller disposes the tensors (or calls this inside a tidy).
 */
export function masksForForward(state: MaskState, options: ForwardMaskOptions): Record<string, tf.Tensor> {
  const masks: Record<string, tf.Tensor> = {};
  const key = options.mode === 'train' && !options.noise ? (options.noiseKey ?? (options.rng ? keyFrom(options.rng) : undefined)) : undefined;
  for (const [index, e] of state.entries.entries()) {
    const s = state.logits.get(e.name);
    if (!s) throw new FactlabError('mask-disposed', `The mask logits of ${e.name} are gone (the mask state was disposed).`);
    if (options.mode === 'eval') {
      masks[e.name] = evalMask(s, options.view);
      continue;
    }
    const given = options.noise?.get(e.name);
    if (!given && key === undefined) throw new FactlabError('bad-mask-settings', 'Train-mode masks need a noise key, an RNG or pre-sampled noise.');
    const noise = given ?? logisticNoise(noiseKey(key!, index), e.shape);
    masks[e.name] = straightThroughMask(s, noise, state.temperature, options.view);
    if (!given) noise.dispose(); // the custom gradient keeps only σ(z), not the noise
  }
  return masks;
}

export function disposeMasks(masks: Record<string, tf.Tensor>): void {
  for (const t of Object.values(masks)) t.dispose();
}

/** Row sums, then their sum: one float32 running sum over a 768 × 3072 matrix is off by ~2% on wasm. */
const sumOfMatrix = (m: tf.Tensor): tf.Scalar => tf.sum(tf.sum(m, 1));

/** Mean σ(s) over all mask logits: the expected subnetwork density (the sparsity regularizer). */
export function expectedDensity(state: MaskState): tf.Scalar {
  return tf.tidy(() => {
    const sums = state.entries.map((e) => sumOfMatrix(tf.sigmoid(state.logits.get(e.name)!)));
    return tf.div(sums.length === 1 ? sums[0] : tf.addN(sums), totalMaskSize(state)) as tf.Scalar;
  });
}

/**
 * Adds scale·∂(mean σ(s))/∂s = scale·σ(s)(1 − σ(s))/N to `into` (by parameter name), one matrix at
 * a time, without a gradient tape; returns mean σ(s). Same gradient as differentiating
 * `expectedDensity`, at the memory of one matrix.
 */
export async function addDensityGradient(state: MaskState, scale: number, into: Map<string, tf.Tensor>): Promise<number> {
  const n = totalMaskSize(state);
  const sums: tf.Scalar[] = [];
  for (const e of state.entries) {
    const s = state.logits.get(e.name)!;
    const before = into.get(e.name);
    const [sum, grad] = tf.tidy(() => {
      const sig = tf.sigmoid(s);
      const g = tf.mul(tf.mul(sig, tf.sub(1, sig)), scale / n);
      return [sumOfMatrix(sig), before ? tf.add(before, g) : g];
    });
    before?.dispose();
    into.set(e.name, grad);
    sums.push(sum);
  }
  const total = tf.addN(sums);
  const value = (await total.data())[0] / n;
  tf.dispose([total, ...sums]);
  return value;
}

export interface ModuleSparsity {
  name: string;
  layer: number;
  matrix: MaskableMatrix;
  total: number;
  /** Weights in the subnetwork (mask 1), i.e. removed from the remaining model. */
  kept: number;
  /** Fraction of zero mask entries. */
  sparsity: number;
}

export interface SparsityReport {
  total: number;
  kept: number;
  sparsity: number;
  modules: ModuleSparsity[];
}

export function sparsityReport(entries: MaskEntry[], keptCounts: number[]): SparsityReport {
  const modules = entries.map((e, i) => ({ name: e.name, layer: e.layer, matrix: e.matrix, total: e.size, kept: keptCounts[i], sparsity: 1 - keptCounts[i] / e.size }));
  const total = modules.reduce((a, m) => a + m.total, 0);
  const kept = modules.reduce((a, m) => a + m.kept, 0);
  return { total, kept, sparsity: total ? 1 - kept / total : 1, modules };
}

/** Sparsity of the eval mask 1[s > 0], overall and per layer × matrix (counted exactly in int32). */
export async function maskSparsity(state: MaskState): Promise<SparsityReport> {
  const counts = tf.tidy(() => tf.stack(state.entries.map((e) => tf.sum(tf.cast(tf.greater(state.logits.get(e.name)!, 0), 'int32')))));
  const values = await counts.data();
  counts.dispose();
  return sparsityReport(state.entries, Array.from(values));
}
