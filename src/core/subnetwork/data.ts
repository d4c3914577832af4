/**
 * Data for subnetwork training (methods.md §5.3, §5.5): TargetKG / ControlKG items, ControlLM
 * blocks, batches, and the final hidden states the losses and metrics read.
 *
 * A KG item is a sentence = prompt ⊕ target tokens (e.g. "The capital of France is" ⊕ " Paris").
 * As in the released code only the last token is labelled (`scoreAllTailTokens` labels every
 * target token, §5.9 #2). Labelled token j is predicted at row j − 1 ('predicting', the paper's
 * intent) or, with the code's off-by-one, the KL reads row j ('label').
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError } from '../errors';
import { promptsFor, relationsById, targetFor } from '../facts/prompts';
import type { Fact, FactSet, PromptSplit } from '../facts/types';
import { forward } from '../model/gpt2';
import type { Gpt2Weights } from '../model/weights';
import { shuffleInPlace, type Rng } from '../random';
import type { Tokenizer } from '../tokenizers/types';

export type KlPosition = 'predicting' | 'label';

export interface KgItem {
  id?: string;
  promptIds: number[];
  targetIds: number[];
}

export interface KgItemOptions {
  /** 'first': one sentence per fact (its first prompt, like the code's one verbalization per triplet); 'all': every prompt. */
  prompts?: 'first' | 'all';
  split?: PromptSplit;
}

/** Tokenized KG items of facts; prompt and target are encoded separately (the target keeps its leading space). */
export function kgItemsFromFacts(tokenizer: Tokenizer, set: Pick<FactSet, 'relations'>, facts: Fact[], options: KgItemOptions = {}): KgItem[] {
  const relations = relationsById(set);
  const items: KgItem[] = [];
  for (const fact of facts) {
    const targetIds = tokenizer.encode(targetFor(fact));
    if (targetIds.length === 0) throw new FactlabError('bad-fact', `Fact "${fact.id}" has an empty object.`);
    const prompts = promptsFor(fact, relations.get(fact.relation), { split: options.split ?? 'train' });
    for (const prompt of options.prompts === 'all' ? prompts : prompts.slice(0, 1)) {
      const promptIds = tokenizer.encode(prompt);
      if (promptIds.length === 0) throw new FactlabError('bad-fact', `Fact "${fact.id}" has an empty prompt.`);
      items.push({ id: fact.id, promptIds, targetIds });
    }
  }
  return items;
}

export const sequenceOf = (item: KgItem): number[] => [...item.promptIds, ...item.targetIds];

/** Indices (in the sequence) of the labelled tokens: the last one, or every target token. */
export function labelledIndices(item: KgItem, scoreAllTailTokens = false): number[] {
  const length = item.promptIds.length + item.targetIds.length;
  if (item.promptIds.length === 0) throw new FactlabError('bad-fact', 'A KG item needs at least one prompt token before its target.');
  if (!scoreAllTailTokens) return [length - 1];
  return item.targetIds.map((_, j) => item.promptIds.length + j);
}

/** Rows the KL is taken at, one per labelled token. */
export function klRowIndices(item: KgItem, position: KlPosition, scoreAllTailTokens = false): number[] {
  return labelledIndices(item, scoreAllTailTokens).map((j) => (position === 'predicting' ? j - 1 : j));
}

/** Token blocks of `blockLength` from a token stream, remainder dropped (as HF's group_texts). */
export function lmBlocks(ids: number[], blockLength: number, maxBlocks = Infinity): number[][] {
  if (!Number.isInteger(blockLength) || blockLength < 2) throw new FactlabError('bad-subnet-settings', `The LM block length must be an integer ≥ 2, got ${blockLength}.`);
  const blocks: number[][] = [];
  for (let start = 0; start + blockLength <= ids.length && blocks.length < maxBlocks; start += blockLength) blocks.push(ids.slice(start, start + blockLength));
  return blocks;
}

/**
 * Endless batches from a list: each pass over it is shuffled with the seeded RNG and cut into
 * batches of `batchSize` (the last one of a pass may be smaller), like cycling a shuffled loader.
 */
export class BatchCycler<T> {
  private order: number[] = [];
  private cursor = 0;
  constructor(
    private readonly items: T[],
    private readonly batchSize: number,
    private readonly rng: Rng,
  ) {
    if (items.length === 0) throw new FactlabError('bad-subnet-data', 'Cannot draw batches from an empty list.');
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new FactlabError('bad-subnet-settings', `Batch sizes must be positive integers, got ${batchSize}.`);
  }
  /**
   * The next batch without moving past it: a step that is cancelled draws the same batch again.
   * (A new pass is shuffled here, once: the RNG is at the same point whenever that happens.)
   */
  peek(): T[] {
    if (this.cursor >= this.order.length) {
      this.order = shuffleInPlace(this.items.map((_, i) => i), this.rng);
      this.cursor = 0;
    }
    return this.order.slice(this.cursor, this.cursor + this.batchSize).map((i) => this.items[i]);
  }
  next(): T[] {
    const batch = this.peek();
    this.cursor += batch.length;
    return batch;
  }
}

/**
 * Consecutive groups of `sequences` (by index) whose right-padded batch has at most `maxTokens`
 * tokens (B × longest), each at least one sequence: the micro-batches of a step's batch.
 */
export function microBatches(sequences: number[][], maxTokens: number): number[][] {
  const groups: number[][] = [];
  let group: number[] = [];
  let width = 0;
  sequences.forEach((seq, i) => {
    const wider = Math.max(width, seq.length);
    if (group.length && (group.length + 1) * wider > maxTokens) {
      groups.push(group);
      group = [];
    }
    width = group.length ? wider : seq.length;
    group.push(i);
  });
  if (group.length) groups.push(group);
  return groups;
}

export interface TokenBatch {
  /** Right-padded token rows. */
  tokens: number[][];
  lengths: number[];
  width: number;
}

export function padBatch(sequences: number[][], pad: number): TokenBatch {
  const width = Math.max(...sequences.map((s) => s.length));
  return { tokens: sequences.map((s) => [...s, ...Array(width - s.length).fill(pad)]), lengths: sequences.map((s) => s.length), width };
}

function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
}

/** The model's input to `forward(…, { start: { layer: 0, residual } })`: token + position embeddings [B, T, d]. */
export function embedded(weights: Gpt2Weights, batch: TokenBatch): tf.Tensor3D {
  return tf.tidy(() => forward(weights, tf.tensor2d(batch.tokens, [batch.tokens.length, batch.width], 'int32'), { stopAtLayer: 0 }) as tf.Tensor3D);
}

/**
 * Final hidden states (after ln_f) at the given (row, position) pairs → [rows, d], or at every
 * position of every row ('all', for unpadded LM blocks) → [B·T, d]. The logits are these times
 * the unembedding, which the losses apply (whole or in vocabulary chunks). Differentiable w.r.t. masks.
 */
export function hiddenRows(weights: Gpt2Weights, batch: TokenBatch, rows: Array<[number, number]> | 'all', masks?: Record<string, tf.Tensor>): tf.Tensor2D {
  return tf.tidy(() => {
    const tokens = tf.tensor2d(batch.tokens, [batch.tokens.length, batch.width], 'int32');
    return finalRows(weights, forward(weights, tokens, { masks, stopAtLayer: weights.config.nLayer }), batch, rows);
  });
}

/** `hiddenRows` from the residual stream after the last block [B, T, d]; differentiable w.r.t. it. */
export function finalRows(weights: Gpt2Weights, resid: tf.Tensor, batch: TokenBatch, rows: Array<[number, number]> | 'all'): tf.Tensor2D {
  const { config } = weights;
  return tf.tidy(() => {
    const B = batch.tokens.length;
    const padded = batch.lengths.some((l) => l !== batch.width);
    if (rows === 'all' && padded) throw new FactlabError('bad-subnet-data', 'All-position rows need unpadded blocks of one length.');
    // Right padding needs no attention mask: causal attention at a real position sees only real tokens.
    const normed = layerNorm(resid, weights.params.get('ln_f.weight')!, weights.params.get('ln_f.bias')!, config.layerNormEpsilon);
    const d = config.nEmbd;
    if (rows === 'all') return tf.reshape(normed, [B * batch.width, d]) as tf.Tensor2D;
    // A one-hot product, not gather (wasm has no gradient kernel for gather) and not one slice
    // per row (each slice's gradient is a zero-padded copy of the whole batch).
    const flat = new Float32Array(rows.length * B * batch.width);
    rows.forEach(([b, t], r) => {
      if (t < 0 || t >= batch.lengths[b]) throw new FactlabError('bad-subnet-data', `Row ${b} has no position ${t}.`);
      flat[r * B * batch.width + b * batch.width + t] = 1;
    });
    return tf.matMul(tf.tensor2d(flat, [rows.length, B * batch.width]), tf.reshape(normed, [B * batch.width, d])) as tf.Tensor2D;
  });
}

/** A padded batch of KG items and their (row, position) pairs for the given positions per item. */
export function kgBatch(items: KgItem[], pad: number, positionsOf: (item: KgItem) => number[]): { batch: TokenBatch; rows: Array<[number, number]> } {
  const batch = padBatch(items.map(sequenceOf), pad);
  const rows: Array<[number, number]> = [];
  items.forEach((item, b) => positionsOf(item).forEach((t) => rows.push([b, t])));
  return { batch, rows };
}
