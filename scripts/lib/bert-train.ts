/**
 * Masked-LM training of a small BERT on the wasm backend: initial weights, the masked batch
 * of a step, and gradients (this module is what the gradient worker imports for BERT).
 *
 * The forward is the runtime's `bertForward`; training only changes how it is fed:
 *  - wasm has no gather gradient, so the word and position lookups enter through the
 *    forward's embedding hooks and their gradients are scattered into the tables in JS; the
 *    segment table's row 0 (every token is segment 0) gets the sum of the embedding gradients,
 *    since the three embeddings are added before the LayerNorm;
 *  - only the masked positions are scored (`outputRows`), which skips the MLM head and the
 *    vocabulary-wide decoder on the ~90% of positions without a loss;
 *  - the Linear weights are the variables ([out, in], HF layout) and the transposes the
 *    forward multiplies by are made from them inside the differentiated function.
 */
import * as tf from '@tensorflow/tfjs';
import { bertForward } from '../../src/core/model/bert';
import type { BertConfig } from '../../src/core/model/bert-config';
import { bertParamShapes, isMultipliedWeight, type BertWeights } from '../../src/core/model/bert-weights';
import { makeRng, normal, type Rng } from '../../src/core/random';
import type { BertTrainingData, FactRow } from './bert-model-data';
import { scatterRowsInto, type Gradients } from './train-optim';
import type { GradientSource } from './train-parallel';
import { rowsForStep } from './train-schedule';

/** A type, not an interface: RowBatch needs the implicit index signature only type aliases get. */
export type MaskedBatch = {
  /** [B, T] input ids (masked), right-padded with [PAD]. */
  tokens: number[][];
  /** [B, T] the id to predict where weights > 0. */
  targets: number[][];
  /** [B, T] loss weight per position (0: no loss). */
  weights: number[][];
  /** Real (unpadded) length of each row. */
  lengths: number[];
};

export interface MaskingSettings {
  /** Share of a text line's pieces that get a loss (BERT: 0.15). */
  maskRate: number;
  /** Of those: replaced by [MASK] (0.8), by a random piece (0.1), else kept. */
  maskTokenShare: number;
  randomTokenShare: number;
  /** Loss weight of a fact's object at its [MASK]. */
  answerWeight: number;
}

/** HF BertForMaskedLM's initialisation: N(0, 0.02) matrices and tables, zero biases, unit gains, a zero [PAD] row. */
export function initialBertParams(config: BertConfig, seed: number): Map<string, tf.Variable> {
  const rng = makeRng(seed);
  const params = new Map<string, tf.Variable>();
  for (const [name, shape] of bertParamShapes(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (/LayerNorm\.weight$/.test(name)) data.fill(1);
    else if (shape.length === 2) for (let i = 0; i < size; i++) data[i] = 0.02 * normal(rng);
    if (name === 'embeddings.word_embeddings.weight') data.fill(0, config.padTokenId * shape[1], (config.padTokenId + 1) * shape[1]);
    params.set(name, tf.variable(tf.tensor(data, shape), true, name));
  }
  return params;
}

function stepSeed(seed: number, step: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(step + 1, 0xc2b2ae35)) >>> 0;
}

/**
 * BERT's masking of one [CLS] … [SEP] line: each inner piece gets a loss with probability
 * `maskRate` (at least one per line) and is then shown as [MASK], as a random piece, or as itself.
 */
function maskLine(ids: number[], rng: Rng, s: MaskingSettings, ids0: { mask: number; firstOrdinary: number; vocabSize: number }): { input: number[]; weights: number[] } {
  const input = [...ids];
  const weights = ids.map(() => 0);
  const inner = ids.length - 2;
  for (let t = 1; t <= inner; t++) if (rng() < s.maskRate) weights[t] = 1;
  if (!weights.includes(1)) weights[1 + Math.floor(rng() * inner)] = 1;
  for (let t = 1; t <= inner; t++) {
    if (!weights[t]) continue;
    const r = rng();
    if (r < s.maskTokenShare) input[t] = ids0.mask;
    else if (r < s.maskTokenShare + s.randomTokenShare) input[t] = ids0.firstOrdinary + Math.floor(rng() * (ids0.vocabSize - ids0.firstOrdinary));
  }
  return { input, weights };
}

/** The batch of a step: depends only on (seed, step), so resumed runs see the same batches. */
export function maskedBatchAt(
  data: BertTrainingData,
  step: number,
  o: { seed: number; factsPerBatch: number; textPerBatch: number; masking: MaskingSettings; maskId: number; padId: number; firstOrdinaryId: number; vocabSize: number },
): MaskedBatch {
  const facts = rowsForStep<FactRow>(data.facts, o.factsPerBatch, step, o.seed, 1);
  const text = rowsForStep(data.text, o.textPerBatch, step, o.seed, 2);
  const rng = makeRng(stepSeed(o.seed, step));
  const rows = [
    // A fact row always shows [MASK] at the object, as the lab's prompts do; only the object has a loss.
    ...facts.map((f) => ({
      input: f.ids,
      targets: f.ids.map((id, t) => (t === f.maskPosition ? f.target : id)),
      weights: f.ids.map((_, t) => (t === f.maskPosition ? o.masking.answerWeight : 0)),
    })),
    ...text.map((ids) => ({ ...maskLine(ids, rng, o.masking, { mask: o.maskId, firstOrdinary: o.firstOrdinaryId, vocabSize: o.vocabSize }), targets: ids })),
  ];
  const width = Math.max(...rows.map((r) => r.input.length));
  const pad = <T>(xs: T[], fill: T) => [...xs, ...Array<T>(width - xs.length).fill(fill)];
  return {
    tokens: rows.map((r) => pad(r.input, o.padId)),
    targets: rows.map((r) => pad(r.targets, o.padId)),
    weights: rows.map((r) => pad(r.weights, 0)),
    lengths: rows.map((r) => r.input.length),
  };
}

/**
 * Gradients of the weight-summed masked-LM loss of one batch (or shard). Summed, not
 * averaged, so that shards computed on different threads add up exactly.
 */
export function computeGradients(config: BertConfig, params: Map<string, tf.Variable>, batch: MaskedBatch): Gradients {
  const B = batch.tokens.length;
  const T = batch.tokens[0].length;
  const d = config.hiddenSize;
  const flatTokens = batch.tokens.flat();
  const picked: Array<{ row: number; target: number; weight: number }> = [];
  batch.weights.forEach((ws, b) => ws.forEach((w, t) => w > 0 && picked.push({ row: b * T + t, target: batch.targets[b][t], weight: w })));
  const weight = picked.reduce((a, p) => a + p.weight, 0);
  const tables = ['embeddings.position_embeddings.weight', 'embeddings.token_type_embeddings.weight'];
  const names = [...params.keys()].filter((n) => !tables.includes(n));
  let result: Gradients | undefined;
  tf.tidy(() => {
    const tokens = tf.tensor2d(flatTokens, [B, T], 'int32');
    const attentionMask = tf.tensor2d(batch.lengths.flatMap((n) => [...Array(n).fill(1), ...Array(T - n).fill(0)]), [B, T], 'int32');
    const outputRows = tf.oneHot(tf.tensor1d(picked.map((p) => p.row), 'int32'), B * T).toFloat() as tf.Tensor2D;
    const targets = tf.oneHot(tf.tensor1d(picked.map((p) => p.target), 'int32'), config.vocabSize).toFloat();
    const lossWeights = tf.tensor1d(picked.map((p) => p.weight));
    const embedded = tf.gather(params.get('embeddings.word_embeddings.weight')!, tokens);
    const positioned = params.get('embeddings.position_embeddings.weight')!.slice([0, 0], [T, d]).reshape([1, T, d]);
    const lossOf = (emb: tf.Tensor, pos: tf.Tensor, ..._ps: tf.Tensor[]) => {
      const transposed = new Map([...params].filter(([n, p]) => isMultipliedWeight(n, p.rank)).map(([n, p]) => [n, tf.transpose(p)]));
      const weights: BertWeights = { config, params: params as Map<string, tf.Tensor>, transposed };
      const logits = bertForward(weights, tokens, { attentionMask, outputRows, hooks: { hook_embed: () => emb, hook_pos_embed: () => pos } });
      return tf.neg(tf.sum(tf.mul(tf.sum(tf.mul(tf.logSoftmax(logits), targets), 1), lossWeights))) as tf.Scalar;
    };
    const { value, grads } = tf.valueAndGrads(lossOf)([embedded, positioned, ...names.map((n) => params.get(n)!)]);
    const [embGrad, posGrad, ...paramGrads] = grads;
    const values = new Map<string, Float32Array>();
    names.forEach((n, i) => values.set(n, paramGrads[i].dataSync() as Float32Array));
    scatterRowsInto(values.get('embeddings.word_embeddings.weight')!, embGrad.dataSync() as Float32Array, flatTokens, d);
    const position = new Float32Array(config.maxPositions * d);
    position.set(posGrad.dataSync() as Float32Array);
    values.set('embeddings.position_embeddings.weight', position);
    const segment = new Float32Array(config.typeVocabSize * d);
    segment.set(embGrad.reshape([B * T, d]).sum(0).dataSync() as Float32Array);
    values.set('embeddings.token_type_embeddings.weight', segment);
    result = { loss: value.dataSync()[0], weight, values };
  });
  return result!;
}

export const BERT_GRADIENTS: GradientSource<BertConfig, MaskedBatch> = { module: import.meta.url, compute: computeGradients };
