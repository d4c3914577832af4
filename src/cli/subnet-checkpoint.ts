/**
 * Checkpoints of `factlab subnet train`: the mask logits at --out (a mask file any
 * `subnet eval` or the lab reads) and, beside it, the Adam moments at OUT.adam.safetensors, so a
 * resumed run continues exactly. Both are written to a temporary file and renamed, so an
 * interrupted write never leaves a broken checkpoint behind.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { FactlabError } from '../core/errors';
import { parseSafetensors, writeSafetensors, type TensorToWrite } from '../core/model/safetensors';
import { sequenceOf, type KgItem } from '../core/subnetwork/data';
import type { MaskDims, MaskState } from '../core/subnetwork/mask';
import { exportMaskLogits, importMask, type ImportedMask } from '../core/subnetwork/mask-io';
import type { SubnetSettings } from '../core/subnetwork/settings';
import type { ResumePoint, SubnetTrainer } from '../core/subnetwork/trainer';

export const momentsPath = (out: string) => `${out}.adam.safetensors`;

/** What a checkpoint stores besides the logits: the settings and a fingerprint of the data. */
export interface CheckpointSettings {
  settings: SubnetSettings;
  data: string;
}

/** FNV-1a over the token ids of the sets and the ControlLM length: a resumed run must see the same data. */
export function dataFingerprint(target: KgItem[], control: KgItem[], lmTokens: number[] | undefined): string {
  let h = 0x811c9dc5;
  const add = (x: number) => (h = Math.imul(h ^ (x + 1), 0x01000193) >>> 0);
  for (const set of [target, control]) {
    add(-1);
    for (const item of set) for (const id of sequenceOf(item)) add(id);
  }
  add(lmTokens?.length ?? -1);
  for (const id of lmTokens ?? []) add(id);
  return h.toString(16).padStart(8, '0');
}

function writeAtomically(path: string, bytes: Uint8Array): void {
  const temporary = `${path}.partial`;
  writeFileSync(temporary, bytes);
  renameSync(temporary, path);
}

export async function writeCheckpoint(out: string, modelId: string, step: number, state: MaskState, trainer: SubnetTrainer, stored: CheckpointSettings): Promise<void> {
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, { m, v }] of await trainer.exportMoments()) {
    const shape = state.entries.find((e) => e.name === name)!.shape;
    tensors[`${name}.adam_m`] = { shape, data: m };
    tensors[`${name}.adam_v`] = { shape, data: v };
  }
  writeAtomically(momentsPath(out), writeSafetensors(tensors, { step: String(step) }));
  writeAtomically(out, await exportMaskLogits(state, { modelId, seed: stored.settings.seed, step, settings: stored }));
}

/** The final logits of a completed run (the moments are no longer needed). */
export async function writeFinalMask(out: string, modelId: string, step: number, state: MaskState, stored: CheckpointSettings): Promise<void> {
  writeAtomically(out, await exportMaskLogits(state, { modelId, seed: stored.settings.seed, step, settings: stored }));
}

export interface LoadedCheckpoint {
  mask: ImportedMask & { logits: Map<string, Float32Array> };
  stored: CheckpointSettings;
  resume: ResumePoint;
}

/** Reads the checkpoint at `out` for --resume; the moments are used when their step matches. */
export function readCheckpoint(out: string, dims: MaskDims, modelId: string): LoadedCheckpoint {
  if (!existsSync(out)) throw new FactlabError('usage', `--resume: there is no checkpoint at ${out}; start without --resume.`);
  const mask = importMask(readFileSync(out), { dims, modelId, fileName: out });
  if (mask.encoding !== 'logits' || !mask.logits) throw new FactlabError('bad-resume', `${out} holds a binary mask; a run can only resume from mask logits.`);
  const stored = mask.info.settings as CheckpointSettings | undefined;
  if (!stored?.settings || typeof stored.data !== 'string' || mask.info.step === undefined) throw new FactlabError('bad-resume', `${out} was not written by \`factlab subnet train\` (it lacks the training settings or step).`);
  const resume: ResumePoint = { step: mask.info.step };
  if (existsSync(momentsPath(out))) {
    const { tensors, metadata } = parseSafetensors(readFileSync(momentsPath(out)), momentsPath(out));
    if (Number(metadata.step) === mask.info.step) {
      resume.moments = new Map(mask.entries.map((e) => {
        const m = tensors.get(`${e.name}.adam_m`);
        const v = tensors.get(`${e.name}.adam_v`);
        if (!m || !v) throw new FactlabError('bad-resume', `${momentsPath(out)} has no moments for ${e.name}.`);
        return [e.name, { m: m.data, v: v.data }];
      }));
    }
  }
  return { mask: mask as LoadedCheckpoint['mask'], stored, resume };
}
