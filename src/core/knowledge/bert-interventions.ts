/**
 * Interventions and edits for BERT at the [MASK] position (methods.md D5, masked-LM setting).
 *
 * Suppress/amplify scale knowledge neurons at each row's [MASK] with the same hooks as
 * GPT-2 (patching.ts). Edits act on value slots: the value vector of neuron (l, j) is
 * column j of `encoder.layer.{l}.output.dense.weight` [d, f] (HF Linear, [out, in]). They
 * reuse the `Edit` record of edit.ts, where for BERT `row` is the neuron index, i.e. the
 * column; `bertEditOverrides` turns them into forward-pass overrides, so the loaded weights
 * never change and reverting is exact.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError } from '../errors';
import { bertForward } from '../model/bert';
import { bertParamName, type BertWeights } from '../model/bert-weights';
import type { NeuronSite } from './attribution';
import { maskPositionOf } from './bert-attribution';
import type { Edit, SlotEdit } from './edit';
import { scaleNeuronsHooks, type AnswerProb } from './patching';
import { checkNeuron, type Neuron } from './refine';

export interface MaskedItem {
  /** Framed prompt ids with exactly one [MASK]. */
  promptIds: number[];
  /** The one-token answer. */
  targetId: number;
}

/**
 * P(answer) at each item's [MASK], in one right-padded batch, optionally with neurons scaled
 * there (×0 suppress, ×2 amplify) and with edits applied as overrides.
 */
export async function maskedAnswerProbs(
  weights: BertWeights,
  maskId: number,
  items: MaskedItem[],
  options: { neurons?: Neuron[]; scale?: number; site?: NeuronSite; overrides?: Record<string, tf.Tensor> } = {},
): Promise<AnswerProb[]> {
  if (items.length === 0) return [];
  const positions = items.map((it) => maskPositionOf(it.promptIds, maskId));
  const width = Math.max(...items.map((it) => it.promptIds.length));
  const pad = weights.config.padTokenId;
  const hooks = options.neurons?.length ? scaleNeuronsHooks(options.neurons, options.scale ?? 0, positions.map((p) => [p]), options.site) : undefined;
  const logProbs = tf.tidy(() => {
    const tokens = tf.tensor2d(items.map((it) => [...it.promptIds, ...Array(width - it.promptIds.length).fill(pad)]), [items.length, width], 'int32');
    const mask = tf.tensor2d(items.map((it) => [...Array(it.promptIds.length).fill(1), ...Array(width - it.promptIds.length).fill(0)]), [items.length, width], 'int32');
    return tf.logSoftmax(bertForward(weights, tokens, { attentionMask: mask, hooks, overrides: options.overrides, logitPositions: positions }));
  });
  // Read asynchronously: WebGPU cannot read synchronously inside a worker.
  const values = await logProbs.data();
  const vocab = logProbs.shape[1]!;
  logProbs.dispose();
  return items.map((it, b) => {
    const row = values.subarray(b * vocab, (b + 1) * vocab);
    const gold = row[it.targetId];
    const prob = Math.exp(gold);
    return { prob, tokenProbs: [prob], top1: row.every((v) => v <= gold) };
  });
}

async function readColumn(weights: BertWeights, param: string, column: number): Promise<Float32Array> {
  const t = weights.params.get(param)!;
  const slice = t.slice([0, column], [t.shape[0]!, 1]);
  const values = (await slice.data()) as Float32Array;
  slice.dispose();
  return values;
}

async function readEmbedding(weights: BertWeights, token: number): Promise<Float32Array> {
  if (!Number.isInteger(token) || token < 0 || token >= weights.config.vocabSize) {
    throw new FactlabError('bad-target', `Token id ${token} is outside the vocabulary (${weights.config.vocabSize} entries).`);
  }
  const slice = weights.params.get(bertParamName.wordEmbeddings)!.slice([token, 0], [1, weights.config.hiddenSize]);
  const values = (await slice.data()) as Float32Array;
  slice.dispose();
  return values;
}

function checkNeurons(weights: BertWeights, neurons: Neuron[], what: string): void {
  if (neurons.length === 0) throw new FactlabError('bad-neurons', `There are no knowledge neurons to ${what}.`);
  for (const n of neurons) checkNeuron(n, weights.config.nLayer, weights.config.intermediateSize);
}

/** The value vector of a neuron (column of output.dense.weight). */
export function bertValueVector(weights: BertWeights, [layer, index]: Neuron): Promise<Float32Array> {
  checkNeuron([layer, index], weights.config.nLayer, weights.config.intermediateSize);
  return readColumn(weights, bertParamName.ffnOut(layer), index);
}

/** Erase: the value slots become zero or the [UNK] embedding (the paper's BERT erase). */
export async function bertEraseEdit(weights: BertWeights, neurons: Neuron[], replacement: { kind: 'zero' } | { kind: 'unk'; unkId: number }, id = 'erase'): Promise<Edit> {
  checkNeurons(weights, neurons, 'erase');
  const fill = replacement.kind === 'unk' ? await readEmbedding(weights, replacement.unkId) : new Float32Array(weights.config.hiddenSize);
  const slots: SlotEdit[] = [];
  for (const n of neurons) slots.push({ param: bertParamName.ffnOut(n[0]), row: n[1], original: await bertValueVector(weights, n), updated: Float32Array.from(fill) });
  return { id, kind: 'erase-relation', description: `set ${neurons.length} value slots to ${replacement.kind === 'unk' ? 'the [UNK] embedding' : 'zero'}`, slots };
}

/** Update ⟨h, r, t⟩ → ⟨h, r, t′⟩: v ← v − (‖v‖/‖e(t)‖)·λ1·e(t) + (‖v‖/‖e(t′)‖)·λ2·e(t′), as edit.ts does for GPT-2. */
export async function bertUpdateFactEdit(weights: BertWeights, neurons: Neuron[], fromToken: number, toToken: number, options: { lambda1?: number; lambda2?: number; id?: string } = {}): Promise<Edit> {
  checkNeurons(weights, neurons, 'edit');
  const { lambda1 = 1, lambda2 = 8 } = options;
  const [eFrom, eTo] = [await readEmbedding(weights, fromToken), await readEmbedding(weights, toToken)];
  const norm = (v: Float32Array) => Math.max(Math.sqrt(v.reduce((a, x) => a + x * x, 0)), 1e-12);
  const slots: SlotEdit[] = [];
  for (const n of neurons) {
    const original = await bertValueVector(weights, n);
    const [s1, s2] = [(norm(original) / norm(eFrom)) * lambda1, (norm(original) / norm(eTo)) * lambda2];
    slots.push({ param: bertParamName.ffnOut(n[0]), row: n[1], original, updated: original.map((v, k) => v - s1 * eFrom[k] + s2 * eTo[k]) });
  }
  return { id: options.id ?? `update:${fromToken}->${toToken}`, kind: 'update-fact', description: `update ${neurons.length} value slots from token ${fromToken} to ${toToken}`, slots };
}

/** Forward-pass overrides for BERT edits, applied in order (later slots win); the caller disposes them. */
export function bertEditOverrides(weights: BertWeights, edits: Edit[]): Record<string, tf.Tensor> {
  const columnsByParam = new Map<string, Map<number, Float32Array>>();
  for (const edit of edits) for (const slot of edit.slots) {
    if (!columnsByParam.has(slot.param)) columnsByParam.set(slot.param, new Map());
    columnsByParam.get(slot.param)!.set(slot.row, slot.updated);
  }
  const overrides: Record<string, tf.Tensor> = {};
  for (const [param, columns] of columnsByParam) {
    const original = weights.params.get(param);
    if (!original) throw new FactlabError('bad-neurons', `The model has no parameter ${param}; is this edit from another model?`);
    const [nRows, nCols] = original.shape as [number, number];
    overrides[param] = tf.tidy(() => {
      const pieces: tf.Tensor[] = [];
      let next = 0;
      for (const column of [...columns.keys()].sort((a, b) => a - b)) {
        if (column > next) pieces.push(original.slice([0, next], [nRows, column - next]));
        pieces.push(tf.tensor2d(columns.get(column)!, [nRows, 1]));
        next = column + 1;
      }
      if (next < nCols) pieces.push(original.slice([0, next], [nRows, nCols - next]));
      return tf.concat(pieces, 1);
    });
  }
  return overrides;
}
