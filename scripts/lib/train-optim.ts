/**
 * What every factlab training script shares: AdamW with warm-up + cosine decay, and
 * gradients kept as summed (not averaged) plain arrays so that shards computed on different
 * threads add up exactly before one optimiser step.
 */
import * as tf from '@tensorflow/tfjs';

export interface AdamWSettings {
  learningRate: number;
  warmupSteps: number;
  totalSteps: number;
  minLearningRateFraction: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

export interface OptimizerState {
  step: number;
  m: Map<string, tf.Variable>;
  v: Map<string, tf.Variable>;
}

export interface Gradients {
  loss: number;
  /** Summed (not averaged) loss weight of the batch, so that shards can be combined exactly. */
  weight: number;
  /** Gradient of the weight-summed loss, per parameter. */
  values: Map<string, Float32Array>;
}

/** A batch is a record of per-row arrays (so it can be split into shards by rows). */
export type RowBatch = { tokens: number[][] } & Record<string, unknown[]>;

export function learningRateAt(step: number, s: AdamWSettings): number {
  if (step < s.warmupSteps) return (s.learningRate * (step + 1)) / s.warmupSteps;
  const progress = Math.min(1, (step - s.warmupSteps) / Math.max(1, s.totalSteps - s.warmupSteps));
  const floor = s.learningRate * s.minLearningRateFraction;
  return floor + 0.5 * (s.learningRate - floor) * (1 + Math.cos(Math.PI * progress));
}

export function newOptimizerState(params: Map<string, tf.Variable>): OptimizerState {
  const zeros = () => new Map([...params].map(([name, p]) => [name, tf.variable(tf.zerosLike(p), false)]));
  return { step: 0, m: zeros(), v: zeros() };
}

/** Rows `from` … `to − 1` of every per-row array of a batch. */
export function shardRows<B extends RowBatch>(batch: B, from: number, to: number): B {
  return Object.fromEntries(Object.entries(batch).map(([key, rows]) => [key, rows.slice(from, to)])) as B;
}

/** Adds another shard's gradients into `into`. */
export function addGradients(into: Gradients, other: Gradients): void {
  into.loss += other.loss;
  into.weight += other.weight;
  for (const [name, g] of other.values) {
    const target = into.values.get(name)!;
    for (let i = 0; i < g.length; i++) target[i] += g[i];
  }
}

/** Adds each row's embedding gradient to its token's row of the table's gradient (the gather gradient wasm lacks). */
export function scatterRowsInto(out: Float32Array, rowGrads: Float32Array, ids: number[], width: number): void {
  for (let r = 0; r < ids.length; r++) {
    const dst = ids[r] * width;
    const src = r * width;
    for (let i = 0; i < width; i++) out[dst + i] += rowGrads[src + i];
  }
}

/** One AdamW step with the batch's gradients (divided by the total loss weight); returns the mean loss. */
export function applyGradients(params: Map<string, tf.Variable>, state: OptimizerState, gradients: Gradients, s: AdamWSettings): number {
  const scale = 1 / Math.max(gradients.weight, 1);
  tf.tidy(() => {
    const mean = new Map([...gradients.values].map(([name, g]) => [name, tf.mul(tf.tensor(g, params.get(name)!.shape), scale)]));
    applyAdamW(params, mean, state, s);
  });
  state.step++;
  return gradients.loss * scale;
}

/** Position and segment tables are looked up, not multiplied: decaying them only shrinks rows that few batches touch. */
const NO_DECAY = /^wpe\.weight$|position_embeddings|token_type_embeddings/;

function applyAdamW(params: Map<string, tf.Variable>, gradients: Map<string, tf.Tensor>, state: OptimizerState, s: AdamWSettings): void {
  const t = state.step + 1;
  const lr = learningRateAt(state.step, s);
  const correction1 = 1 - s.beta1 ** t;
  const correction2 = 1 - s.beta2 ** t;
  for (const [name, p] of params) {
    const g = gradients.get(name)!;
    const m = state.m.get(name)!;
    const v = state.v.get(name)!;
    m.assign(tf.add(tf.mul(m, s.beta1), tf.mul(g, 1 - s.beta1)));
    v.assign(tf.add(tf.mul(v, s.beta2), tf.mul(tf.square(g), 1 - s.beta2)));
    const update = tf.div(tf.div(m, correction1), tf.add(tf.sqrt(tf.div(v, correction2)), s.epsilon));
    // Decoupled weight decay on matrices only (not biases, LayerNorm gains or position tables).
    const decay = p.shape.length === 2 && !NO_DECAY.test(name) ? tf.mul(p, s.weightDecay) : tf.zerosLike(p);
    p.assign(tf.sub(p, tf.mul(tf.add(update, decay), lr)));
  }
}
