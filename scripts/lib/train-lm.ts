/**
 * Language-model training for the default model (AdamW, warm-up + cosine decay), on the
 * wasm backend, optionally on two threads (data-parallel shards). wasm has no kernel for the gradient of `gather`, so the embedding lookups
 * are fed in through the forward's embedding hooks and their gradients are scattered
 * into `wte`/`wpe` here, in plain JS.
 */
import * as tf from '@tensorflow/tfjs';
import { forward } from '../../src/core/model/gpt2';
import type { Gpt2Weights } from '../../src/core/model/weights';

export interface Batch {
  /** [B, T] token ids; rows are right-padded. */
  tokens: number[][];
  /** [B, T] weight of the loss for predicting tokens[b][t + 1] at position t (0 for padding and the last column). */
  weights: number[][];
}

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

/** Weight-summed cross-entropy of next-token prediction (one-hot, not gather: no gather gradient on wasm). */
function summedLoss(logits: tf.Tensor, targets: tf.Tensor2D, lossWeights: tf.Tensor2D): tf.Scalar {
  const vocab = logits.shape[2]!;
  const logProbs = tf.logSoftmax(logits.reshape([-1, vocab]));
  const picked = tf.sum(tf.mul(logProbs, tf.oneHot(targets.reshape([-1]), vocab)), 1);
  return tf.neg(tf.sum(tf.mul(picked, lossWeights.reshape([-1])))) as tf.Scalar;
}

export interface Gradients {
  loss: number;
  /** Summed (not averaged) loss weight of the batch, so that shards can be combined exactly. */
  weight: number;
  /** Gradient of the weight-summed loss, per parameter. */
  values: Map<string, Float32Array>;
}

/**
 * Gradients of the weight-summed next-token loss of one batch (or one shard of it).
 * Summed, not averaged, so that shards computed on different threads add up exactly.
 */
export function computeGradients(weights: Gpt2Weights, params: Map<string, tf.Variable>, batch: Batch): Gradients {
  const { config } = weights;
  const B = batch.tokens.length;
  const T = batch.tokens[0].length;
  const flatTokens = batch.tokens.flat();
  const weight = batch.weights.flat().reduce((a, b) => a + b, 0);
  let result: Gradients | undefined;
  tf.tidy(() => {
    const tokens = tf.tensor2d(flatTokens, [B, T], 'int32');
    const targets = tf.concat([tokens.slice([0, 1], [B, T - 1]), tf.zeros([B, 1], 'int32')], 1) as tf.Tensor2D;
    const lossWeights = tf.tensor2d(batch.weights.flat(), [B, T]);
    const embedded = tf.gather(params.get('wte.weight')!, tokens);
    const positioned = tf.tile(params.get('wpe.weight')!.slice([0, 0], [T, config.nEmbd]).reshape([1, T, config.nEmbd]), [B, 1, 1]);
    const names = [...params.keys()].filter((n) => n !== 'wpe.weight');
    const lossOf = (emb: tf.Tensor, pos: tf.Tensor, ..._ps: tf.Tensor[]) =>
      summedLoss(forward(weights, tokens, { hooks: { hook_embed: () => emb, hook_pos_embed: () => pos } }), targets, lossWeights);
    const { value, grads } = tf.valueAndGrads(lossOf)([embedded, positioned, ...names.map((n) => params.get(n)!)]);
    const [embGrad, posGrad, ...paramGrads] = grads;
    const values = new Map<string, Float32Array>();
    names.forEach((n, i) => values.set(n, paramGrads[i].dataSync() as Float32Array));
    scatterRowsInto(values.get('wte.weight')!, embGrad.dataSync() as Float32Array, flatTokens, config.nEmbd);
    const wpe = new Float32Array(config.nPositions * config.nEmbd);
    wpe.set(posGrad.sum(0).dataSync() as Float32Array);
    values.set('wpe.weight', wpe);
    result = { loss: value.dataSync()[0], weight, values };
  });
  return result!;
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

/** Computes and applies one step on a single thread. */
export function trainStep(weights: Gpt2Weights, params: Map<string, tf.Variable>, state: OptimizerState, batch: Batch, s: AdamWSettings): number {
  return applyGradients(params, state, computeGradients(weights, params, batch), s);
}

/** Adds each row's embedding gradient to its token's row of the wte gradient. */
function scatterRowsInto(out: Float32Array, rowGrads: Float32Array, ids: number[], width: number): void {
  for (let r = 0; r < ids.length; r++) {
    const dst = ids[r] * width;
    const src = r * width;
    for (let i = 0; i < width; i++) out[dst + i] += rowGrads[src + i];
  }
}

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
    // Decoupled weight decay on matrices only (not biases, LayerNorm gains or position table rows).
    const decay = p.shape.length === 2 && name !== 'wpe.weight' ? tf.mul(p, s.weightDecay) : tf.zerosLike(p);
    p.assign(tf.sub(p, tf.mul(tf.add(update, decay), lr)));
  }
}
