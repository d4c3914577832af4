/**
 * Metrics of knowledge-critical subnetworks (methods.md §5.6, D7):
 * - KG PPL: the mean over batches of exp(mean CE over the labelled tokens), each labelled token
 *   predicted at the position before it (HF's shift); also mean probability and top-1.
 * - LM PPL: the mean over batches of blocks of exp(mean next-token CE).
 * - ΔPPL = PPL(remaining) − PPL(full) on TargetKG, ControlKG and ControlLM.
 * - The random baseline removes the same number of weights in each module, uniformly at random
 *   (seeded); masks of several seeds combine by union, intersection or majority.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError, throwIfAborted, yieldToEventLoop } from '../errors';
import type { Gpt2Weights } from '../model/weights';
import { makeRng } from '../random';
import { assertSameLayout, binaryMasksForForward, binarySparsity, countOnes, type BinaryMask } from './binary';
import { hiddenRows, kgBatch, labelledIndices, microBatches, padBatch, sequenceOf, type KgItem } from './data';
import { headOf, logitsOf, type VocabHead } from './losses';
import { disposeMasks, type SparsityReport } from './mask';

export interface KgScore {
  /** Labelled tokens scored. */
  n: number;
  ppl: number;
  meanCe: number;
  meanProb: number;
  /** Share of the labelled tokens that are the argmax. */
  top1: number;
  /**
   * Share of the items whose whole answer is the greedy, teacher-forced continuation (every
   * answer token the argmax), whichever tokens the metric labels: a fact's top-1 accuracy.
   */
  answerTop1: number;
}

export interface LmScore {
  blocks: number;
  ppl: number;
  meanCe: number;
}

const mean = (xs: ArrayLike<number>) => (xs.length ? Array.from(xs).reduce((a, b) => a + b, 0) / xs.length : NaN);

/** Cross-entropy of `gold` and whether it is the argmax, per hidden row, `rowChunk` rows of logits at a time. */
export async function scoreRows(head: VocabHead, hidden: tf.Tensor2D, gold: number[], rowChunk = 256): Promise<{ ce: Float32Array; top1: Uint8Array }> {
  const rows = hidden.shape[0];
  const ce = new Float32Array(rows);
  const top1 = new Uint8Array(rows);
  for (let start = 0; start < rows; start += rowChunk) {
    const size = Math.min(rowChunk, rows - start);
    const [ceT, topT] = tf.tidy(() => {
      const z = logitsOf(head, tf.slice(hidden, [start, 0], [size, hidden.shape[1]]) as tf.Tensor2D);
      const V = z.shape[1];
      const index = tf.tensor1d(gold.slice(start, start + size).map((g, r) => r * V + g), 'int32');
      const goldLogit = tf.gather(tf.reshape(z, [-1]), index);
      return [tf.sub(tf.logSumExp(z, 1), goldLogit), tf.greaterEqual(goldLogit, tf.max(z, 1))];
    });
    ce.set(await ceT.data(), start);
    top1.set(await topT.data(), start);
    ceT.dispose();
    topT.dispose();
  }
  return { ce, top1 };
}

export interface ScoreOptions {
  masks?: Record<string, tf.Tensor>;
  /** Items per batch of the metric (PPL is a mean over batches). */
  batchSize?: number;
  /** KG items: forward passes of at most this many padded tokens (at least one item), with a cancellation point between them; the metric's batches stay the same. */
  maxTokens?: number;
  rowChunk?: number;
  scoreAllTailTokens?: boolean;
  signal?: AbortSignal;
}

/** KG PPL and friends of a model (with `masks` applied) on KG items. */
export async function kgScores(weights: Gpt2Weights, items: KgItem[], options: ScoreOptions = {}): Promise<KgScore> {
  if (items.length === 0) return { n: 0, ppl: NaN, meanCe: NaN, meanProb: NaN, top1: NaN, answerTop1: NaN };
  const head = headOf(weights);
  const batchSize = options.batchSize ?? 250;
  const ces: number[] = [];
  const tops: number[] = [];
  const answerTops: number[] = [];
  const batchPpl: number[] = [];
  for (let start = 0; start < items.length; start += batchSize) {
    const chunk = items.slice(start, start + batchSize);
    const batchCe: number[] = [];
    for (const group of microBatches(chunk.map(sequenceOf), options.maxTokens ?? Infinity)) {
      // Reading results back resolves as microtasks: without a timer, a cancel message to the worker waits for the whole evaluation.
      await yieldToEventLoop();
      throwIfAborted(options.signal, 'evaluation');
      const part = group.map((i) => chunk[i]);
      // Every answer token is scored (for answerTop1); the metric keeps the labelled ones (the last, unless scoreAllTailTokens).
      const answer = part.map((item) => labelledIndices(item, true));
      const { batch, rows } = kgBatch(part, weights.config.eosTokenId, (item) => labelledIndices(item, true).map((j) => j - 1));
      const gold = part.flatMap((item, b) => answer[b].map((j) => sequenceOf(item)[j]));
      const hidden = hiddenRows(weights, batch, rows, options.masks);
      const { ce, top1 } = await scoreRows(head, hidden, gold, options.rowChunk);
      hidden.dispose();
      let row = 0;
      for (const positions of answer) {
        const n = positions.length;
        const labelled = options.scoreAllTailTokens ? [...Array(n).keys()] : [n - 1];
        for (const k of labelled) {
          batchCe.push(ce[row + k]);
          tops.push(top1[row + k]);
        }
        answerTops.push(top1.subarray(row, row + n).every((t) => t === 1) ? 1 : 0);
        row += n;
      }
    }
    batchPpl.push(Math.exp(mean(batchCe)));
    ces.push(...batchCe);
  }
  return { n: ces.length, ppl: mean(batchPpl), meanCe: mean(ces), meanProb: mean(ces.map((c) => Math.exp(-c))), top1: mean(tops), answerTop1: mean(answerTops) };
}

/** LM PPL on equal-length token blocks (e.g. 512-token WikiText-2 blocks in batches of 8). */
export async function lmScores(weights: Gpt2Weights, blocks: number[][], options: ScoreOptions = {}): Promise<LmScore> {
  if (blocks.length === 0) return { blocks: 0, ppl: NaN, meanCe: NaN };
  const head = headOf(weights);
  const batchSize = options.batchSize ?? 8;
  const batchPpl: number[] = [];
  const all: number[] = [];
  for (let start = 0; start < blocks.length; start += batchSize) {
    await yieldToEventLoop();
    throwIfAborted(options.signal, 'evaluation');
    const chunk = blocks.slice(start, start + batchSize);
    const T = chunk[0].length;
    if (chunk.some((b) => b.length !== T)) throw new FactlabError('bad-subnet-data', 'LM blocks in a batch must have the same length.');
    const batch = padBatch(chunk, weights.config.eosTokenId);
    const gold = chunk.flatMap((b) => b.map((_, t) => (t + 1 < T ? b[t + 1] : 0)));
    const hidden = hiddenRows(weights, batch, 'all', options.masks);
    const { ce } = await scoreRows(head, hidden, gold, options.rowChunk);
    hidden.dispose();
    const scored = Array.from(ce).filter((_, r) => r % T !== T - 1);
    batchPpl.push(Math.exp(mean(scored)));
    all.push(...scored);
  }
  return { blocks: blocks.length, ppl: mean(batchPpl), meanCe: mean(all) };
}

export interface SubnetEvalData {
  target: KgItem[];
  controlKg: KgItem[];
  /** Test blocks of the LM corpus (the code: WikiText-2 test[:20%], 512 tokens, batch 8). */
  controlLm?: number[][];
}

export interface ModelScores {
  target: KgScore;
  controlKg: KgScore;
  controlLm?: LmScore;
}

export interface DeltaPpl {
  target: number;
  controlKg: number;
  controlLm?: number;
}

export interface SubnetEvaluation {
  sparsity: SparsityReport;
  full: ModelScores;
  remaining: ModelScores;
  /** PPL(remaining) − PPL(full). */
  delta: DeltaPpl;
  /** The subnetwork alone (θ ⊙ m) on TargetKG. */
  subnetwork?: { target: KgScore };
  random?: { seed: number; scores: ModelScores; delta: DeltaPpl };
}

export interface EvaluateOptions extends Omit<ScoreOptions, 'masks'> {
  lmBatchSize?: number;
  /** Seed of the random-mask baseline; null skips it. Default 1318. */
  randomSeed?: number | null;
  subnetwork?: boolean;
}

async function scoresWith(weights: Gpt2Weights, data: SubnetEvalData, masks: Record<string, tf.Tensor> | undefined, options: EvaluateOptions): Promise<ModelScores> {
  const base = { ...options, masks };
  return {
    target: await kgScores(weights, data.target, base),
    controlKg: await kgScores(weights, data.controlKg, base),
    controlLm: data.controlLm ? await lmScores(weights, data.controlLm, { ...base, batchSize: options.lmBatchSize ?? 8 }) : undefined,
  };
}

const deltaOf = (after: ModelScores, before: ModelScores): DeltaPpl => ({
  target: after.target.ppl - before.target.ppl,
  controlKg: after.controlKg.ppl - before.controlKg.ppl,
  controlLm: after.controlLm && before.controlLm ? after.controlLm.ppl - before.controlLm.ppl : undefined,
});

/** Full model vs remaining model (and the random baseline, and the subnetwork on TargetKG). */
export async function evaluateSubnetwork(weights: Gpt2Weights, mask: BinaryMask, data: SubnetEvalData, options: EvaluateOptions = {}): Promise<SubnetEvaluation> {
  const withMasks = async (m: BinaryMask, view: 'remaining' | 'subnetwork', run: (masks: Record<string, tf.Tensor>) => Promise<ModelScores | KgScore>) => {
    const masks = binaryMasksForForward(m, view);
    try {
      return await run(masks);
    } finally {
      disposeMasks(masks);
    }
  };
  const full = await scoresWith(weights, data, undefined, options);
  const remaining = (await withMasks(mask, 'remaining', (m) => scoresWith(weights, data, m, options))) as ModelScores;
  const result: SubnetEvaluation = { sparsity: binarySparsity(mask), full, remaining, delta: deltaOf(remaining, full) };
  if (options.subnetwork) result.subnetwork = { target: (await withMasks(mask, 'subnetwork', (m) => kgScores(weights, data.target, { ...options, masks: m }))) as KgScore };
  const seed = options.randomSeed === undefined ? 1318 : options.randomSeed;
  if (seed !== null) {
    const scores = (await withMasks(randomBaseline(mask, seed), 'remaining', (m) => scoresWith(weights, data, m, options))) as ModelScores;
    result.random = { seed, scores, delta: deltaOf(scores, full) };
  }
  return result;
}

/** A mask with the same number of subnetwork weights in every module, placed uniformly at random (seeded). */
export function randomBaseline(mask: BinaryMask, seed: number): BinaryMask {
  const rng = makeRng(seed);
  const bits = new Map<string, Uint8Array>();
  for (const e of mask.entries) {
    const k = countOnes(mask.bits.get(e.name)!);
    const n = e.size;
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    const out = new Uint8Array(n);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(rng() * (n - i));
      const picked = order[j];
      order[j] = order[i];
      order[i] = picked;
      out[picked] = 1;
    }
    bits.set(e.name, out);
  }
  return { ...mask, bits };
}

export type CombineRule = 'union' | 'intersection' | 'majority';

/** Combines masks of several seeds: in any (union), in all (intersection), or in more than half (majority; 2 of 3). */
export function combineMasks(masks: BinaryMask[], rule: CombineRule): BinaryMask {
  if (masks.length === 0) throw new FactlabError('bad-mask', 'Combining needs at least one mask.');
  masks.forEach((m, i) => i > 0 && assertSameLayout(masks[0], m, 'masks to combine'));
  const need = rule === 'union' ? 1 : rule === 'intersection' ? masks.length : Math.floor(masks.length / 2) + 1;
  const bits = new Map<string, Uint8Array>();
  for (const e of masks[0].entries) {
    const out = new Uint8Array(e.size);
    const sources = masks.map((m) => m.bits.get(e.name)!);
    for (let i = 0; i < e.size; i++) {
      let votes = 0;
      for (const s of sources) votes += s[i];
      out[i] = votes >= need ? 1 : 0;
    }
    bits.set(e.name, out);
  }
  return { ...masks[0], bits };
}

/** Sparsity as a percentage (the paper's unit). */
export const sparsityPercent = (report: Pick<SparsityReport, 'sparsity'>): number => 100 * report.sparsity;
