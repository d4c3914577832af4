/**
 * Binary (final) masks: one byte 0/1 per weight, 1 = the weight is in the subnetwork.
 * They come from trained logits (1[s > 0]), from a bit-packed mask file, from the random
 * baseline or from combining masks of several seeds, and all evaluate the same way.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError } from '../errors';
import { sparsityReport, type MaskDims, type MaskEntry, type MaskState, type MaskView, type SparsityReport } from './mask';

export interface BinaryMask {
  dims: MaskDims;
  layers: number[];
  entries: MaskEntry[];
  /** Per parameter name: 1 where the weight belongs to the subnetwork, else 0. */
  bits: Map<string, Uint8Array>;
}

/** The eval-mode subnetwork mask 1[s > 0] of trained logits. */
export async function binaryFromState(state: MaskState): Promise<BinaryMask> {
  const bits = new Map<string, Uint8Array>();
  for (const e of state.entries) {
    const values = await state.logits.get(e.name)!.data();
    const out = new Uint8Array(e.size);
    for (let i = 0; i < e.size; i++) out[i] = values[i] > 0 ? 1 : 0;
    bits.set(e.name, out);
  }
  return { dims: { ...state.dims }, layers: [...state.layers], entries: state.entries.map((e) => ({ ...e })), bits };
}

export function binarySparsity(mask: BinaryMask): SparsityReport {
  return sparsityReport(mask.entries, mask.entries.map((e) => countOnes(mask.bits.get(e.name)!)));
}

export function countOnes(bits: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bits.length; i++) n += bits[i];
  return n;
}

/** Masks for `forward(…, { masks })`: W ⊙ m ('subnetwork') or W ⊙ (1 − m) ('remaining'). Caller disposes. */
export function binaryMasksForForward(mask: BinaryMask, view: MaskView): Record<string, tf.Tensor> {
  const masks: Record<string, tf.Tensor> = {};
  for (const e of mask.entries) {
    const bits = mask.bits.get(e.name);
    if (!bits || bits.length !== e.size) throw new FactlabError('bad-mask', `The binary mask has no ${e.size} values for ${e.name}.`);
    const values = new Float32Array(e.size);
    for (let i = 0; i < e.size; i++) values[i] = view === 'subnetwork' ? bits[i] : 1 - bits[i];
    masks[e.name] = tf.tensor2d(values, e.shape);
  }
  return masks;
}

/** Throws unless the masks cover the same matrices of the same model shape. */
export function assertSameLayout(a: Pick<BinaryMask, 'dims' | 'entries'>, b: Pick<BinaryMask, 'dims' | 'entries'>, what = 'masks'): void {
  const same =
    a.dims.nLayer === b.dims.nLayer && a.dims.nEmbd === b.dims.nEmbd && a.dims.nInner === b.dims.nInner &&
    a.entries.length === b.entries.length && a.entries.every((e, i) => e.name === b.entries[i].name && e.size === b.entries[i].size);
  if (!same) {
    const list = (m: typeof a) => `${m.entries.map((e) => e.name).join(', ')} (n_layer ${m.dims.nLayer}, d ${m.dims.nEmbd})`;
    throw new FactlabError('mask-layout-mismatch', `The ${what} do not cover the same matrices: ${list(a)} vs ${list(b)}.`);
  }
}
