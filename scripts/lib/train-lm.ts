/**
 * Gradients of GPT-2 next-token training for the default model, on the wasm backend. wasm
 * has no kernel for the gradient of `gather`, so the embedding lookups are fed in through
 * the forward's embedding hooks and their gradients are scattered into `wte`/`wpe` in plain
 * JS. The optimiser and the two-thread trainer are shared with BERT (train-optim.ts,
 * train-parallel.ts); this module is what the gradient worker imports for GPT-2.
 */
import * as tf from '@tensorflow/tfjs';
import type { Gpt2Config } from '../../src/core/model/config';
import { forward } from '../../src/core/model/gpt2';
import { scatterRowsInto, type Gradients } from './train-optim';
import type { GradientSource } from './train-parallel';

// A type, not an interface: RowBatch needs the implicit index signature only type aliases get.
export type Batch = {
  /** [B, T] token ids; rows are right-padded. */
  tokens: number[][];
  /** [B, T] weight of the loss for predicting tokens[b][t + 1] at position t (0 for padding and the last column). */
  weights: number[][];
};

/** Weight-summed cross-entropy of next-token prediction (one-hot, not gather: no gather gradient on wasm). */
function summedLoss(logits: tf.Tensor, targets: tf.Tensor2D, lossWeights: tf.Tensor2D): tf.Scalar {
  const vocab = logits.shape[2]!;
  const logProbs = tf.logSoftmax(logits.reshape([-1, vocab]));
  const picked = tf.sum(tf.mul(logProbs, tf.oneHot(targets.reshape([-1]), vocab)), 1);
  return tf.neg(tf.sum(tf.mul(picked, lossWeights.reshape([-1])))) as tf.Scalar;
}

/**
 * Gradients of the weight-summed next-token loss of one batch (or one shard of it).
 * Summed, not averaged, so that shards computed on different threads add up exactly.
 */
export function computeGradients(config: Gpt2Config, params: Map<string, tf.Variable>, batch: Batch): Gradients {
  const weights = { config, params: params as Map<string, tf.Tensor> };
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

export const GPT2_GRADIENTS: GradientSource<Gpt2Config, Batch> = { module: import.meta.url, compute: computeGradients };
