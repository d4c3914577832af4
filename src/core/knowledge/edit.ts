/**
 * Editing knowledge through the value slots of knowledge neurons (methods.md D5, §3.5 b/c).
 *
 * The value slot of neuron (l, i) is row i of `h.l.mlp.c_proj.weight` (GPT-2 Conv1D, in × out);
 * its key is column i of `h.l.mlp.c_fc.weight`. Edits never touch the loaded weights: an
 * `EditSet` records (parameter, row, original, new) and turns into `overrides` for the
 * forward pass, so reverting is exact by construction.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError } from '../errors';
import type { Gpt2Weights } from '../model/weights';
import { checkNeuron, indicesByLayer, neuronKey, type Neuron } from './refine';

export interface SlotEdit {
  param: string;
  row: number;
  original: Float32Array;
  updated: Float32Array;
}

export interface Edit {
  id: string;
  kind: 'update-fact' | 'erase-relation' | 'scale-weights';
  description: string;
  slots: SlotEdit[];
}

export const valueParam = (layer: number) => `h.${layer}.mlp.c_proj.weight`;

async function readRow(weights: Gpt2Weights, param: string, row: number): Promise<Float32Array> {
  const t = weights.params.get(param);
  if (!t) throw new FactlabError('bad-neurons', `The model has no parameter ${param}.`);
  const slice = t.slice([row, 0], [1, t.shape[1]!]);
  const values = (await slice.data()) as Float32Array;
  slice.dispose();
  return values;
}

const norm = (v: Float32Array) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));

/** The value vector v_i of each neuron (row of c_proj), for inspection and projection. */
export function valueVector(weights: Gpt2Weights, [layer, index]: Neuron): Promise<Float32Array> {
  checkNeuron([layer, index], weights.config.nLayer, weights.config.nInner);
  return readRow(weights, valueParam(layer), index);
}

/**
 * Update a fact ⟨h, r, t⟩ → ⟨h, r, t′⟩ (official norm-scaled form):
 * v_i ← v_i − (‖v_i‖/‖e(t)‖)·λ1·e(t) + (‖v_i‖/‖e(t′)‖)·λ2·e(t′).
 */
export async function updateFactEdit(weights: Gpt2Weights, neurons: Neuron[], fromToken: number, toToken: number, options: { lambda1?: number; lambda2?: number; id?: string } = {}): Promise<Edit> {
  if (neurons.length === 0) throw new FactlabError('bad-neurons', 'There are no knowledge neurons to edit for this fact (after the ≤ 10% relation filter); try more prompts or a lower p.');
  for (const n of neurons) checkNeuron(n, weights.config.nLayer, weights.config.nInner);
  const { lambda1 = 1, lambda2 = 8 } = options;
  const eFrom = await readRow(weights, 'wte.weight', fromToken);
  const eTo = await readRow(weights, 'wte.weight', toToken);
  const slots: SlotEdit[] = [];
  for (const [layer, index] of neurons) {
    const param = valueParam(layer);
    const original = await readRow(weights, param, index);
    const scale1 = (norm(original) / Math.max(norm(eFrom), 1e-12)) * lambda1;
    const scale2 = (norm(original) / Math.max(norm(eTo), 1e-12)) * lambda2;
    const updated = original.map((v, k) => v - scale1 * eFrom[k] + scale2 * eTo[k]);
    slots.push({ param, row: index, original, updated });
  }
  return { id: options.id ?? `update:${fromToken}->${toToken}`, kind: 'update-fact', description: `update ${neurons.length} value slots from token ${fromToken} to ${toToken}`, slots };
}

/** Erase: the value slots become zero (paper v2) or the mean token embedding (GPT-2 has no [UNK]). */
export async function eraseEdit(weights: Gpt2Weights, neurons: Neuron[], replacement: 'zero' | 'mean-embedding' = 'zero', id = 'erase'): Promise<Edit> {
  if (neurons.length === 0) throw new FactlabError('bad-neurons', 'There are no knowledge neurons to erase.');
  for (const n of neurons) checkNeuron(n, weights.config.nLayer, weights.config.nInner);
  let fill: Float32Array = new Float32Array(weights.config.nEmbd);
  if (replacement === 'mean-embedding') {
    const mean = weights.params.get('wte.weight')!.mean(0);
    fill = (await mean.data()) as Float32Array;
    mean.dispose();
  }
  const slots: SlotEdit[] = [];
  for (const [layer, index] of neurons) slots.push({ param: valueParam(layer), row: index, original: await readRow(weights, valueParam(layer), index), updated: Float32Array.from(fill) });
  return { id, kind: 'erase-relation', description: `set ${neurons.length} value slots to ${replacement}`, slots };
}

/**
 * Forward-pass overrides for a list of edits applied in order. The caller disposes the
 * returned tensors (`disposeOverrides`). Slots edited twice take the later value.
 */
export function editOverrides(weights: Gpt2Weights, edits: Edit[]): Record<string, tf.Tensor> {
  const rowsByParam = new Map<string, Map<number, Float32Array>>();
  for (const edit of edits) for (const slot of edit.slots) {
    const rows = rowsByParam.get(slot.param) ?? new Map<number, Float32Array>();
    rows.set(slot.row, slot.updated);
    rowsByParam.set(slot.param, rows);
  }
  const overrides: Record<string, tf.Tensor> = {};
  for (const [param, rows] of rowsByParam) {
    const original = weights.params.get(param)!;
    const [nRows, nCols] = original.shape as [number, number];
    // Untouched row ranges are sliced from the original on the device, edited rows come from the log.
    overrides[param] = tf.tidy(() => {
      const pieces: tf.Tensor[] = [];
      let next = 0;
      for (const row of [...rows.keys()].sort((a, b) => a - b)) {
        if (row > next) pieces.push(original.slice([next, 0], [row - next, nCols]));
        pieces.push(tf.tensor2d(rows.get(row)!, [1, nCols]));
        next = row + 1;
      }
      if (next < nRows) pieces.push(original.slice([next, 0], [nRows - next, nCols]));
      return tf.concat(pieces, 0);
    });
  }
  return overrides;
}

/**
 * Overrides that multiply the value slots of `neurons` by `scale`: ×0 silences a neuron's output
 * at every position, ×2 doubles it (the "weights" variant of an intervention, on the slots
 * heng840/DKN's `kn.py` edits; activation hooks act at the answer positions only). The caller disposes them.
 */
export function scaledValueOverrides(weights: Gpt2Weights, neurons: Neuron[], scale: number): Record<string, tf.Tensor> {
  const overrides: Record<string, tf.Tensor> = {};
  for (const [layer, rows] of indicesByLayer(neurons)) {
    const param = valueParam(layer);
    const original = weights.params.get(param)!;
    const factors = new Float32Array(original.shape[0]).fill(1);
    for (const row of rows) factors[row] = scale;
    overrides[param] = tf.tidy(() => tf.mul(original, tf.tensor2d(factors, [factors.length, 1])));
  }
  return overrides;
}

export function disposeOverrides(overrides: Record<string, tf.Tensor>): void {
  for (const t of Object.values(overrides)) t.dispose();
}

/**
 * Official update filter: keep a fact's neurons that occur in at most 10% of the relation's
 * fact-level neuron sets.
 */
export function filterByRelationFrequency(factNeurons: Neuron[], relationNeuronSets: Neuron[][], maxFraction = 0.1): Neuron[] {
  const counts = neuronCounts(relationNeuronSets);
  const limit = maxFraction * relationNeuronSets.length;
  return factNeurons.filter((n) => (counts.get(neuronKey(n)) ?? 0) <= limit);
}

/** The relation's most frequent knowledge neurons; ties by (layer asc, index asc). */
export function mostFrequentNeurons(relationNeuronSets: Neuron[][], k = 20): Array<{ neuron: Neuron; count: number }> {
  const counts = neuronCounts(relationNeuronSets);
  return [...counts.entries()]
    .map(([key, count]) => ({ neuron: key.split(':').map(Number) as Neuron, count }))
    .sort((a, b) => b.count - a.count || a.neuron[0] - b.neuron[0] || a.neuron[1] - b.neuron[1])
    .slice(0, k);
}

function neuronCounts(sets: Neuron[][]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const set of sets) for (const key of new Set(set.map(neuronKey))) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}
