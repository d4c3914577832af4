/**
 * Writing model folders in Hugging Face layout (the runtime reads them with the same loader
 * as real checkpoints), and the training scripts' resumable checkpoints (weights + AdamW moments).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { gpt2ConfigToJson, type Gpt2Config } from '../../src/core/model/config';
import { parseSafetensors, writeSafetensors, type SafetensorsDtype, type TensorToWrite } from '../../src/core/model/safetensors';
import type { OptimizerState } from './train-optim';

export function tensorsToWrite(params: Map<string, tf.Tensor>, dtype: SafetensorsDtype = 'F32'): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const [name, t] of params) out[name] = { shape: t.shape, data: t.dataSync() as Float32Array, dtype };
  return out;
}

export function writeModelFolder(dir: string, config: Gpt2Config, params: Map<string, tf.Tensor>, tokenizer: { vocabJson: string; mergesText: string }, metadata: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(gpt2ConfigToJson(config), null, 2)}\n`);
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(tensorsToWrite(params), { format: 'pt', ...metadata }));
  writeFileSync(join(dir, 'vocab.json'), tokenizer.vocabJson);
  writeFileSync(join(dir, 'merges.txt'), tokenizer.mergesText);
}

const CHECKPOINT = 'checkpoint.safetensors';

/** Time spent training so far, carried across resumed runs so the model card reports the whole run. */
export interface TrainingClock {
  wallMinutes: number;
  cpuMinutes: number;
}

export function saveTrainingCheckpoint(dir: string, step: number, seed: number, params: Map<string, tf.Variable>, state: OptimizerState, clock?: TrainingClock): void {
  mkdirSync(dir, { recursive: true });
  const all = new Map<string, tf.Tensor>();
  for (const [n, p] of params) all.set(`param/${n}`, p).set(`m/${n}`, state.m.get(n)!).set(`v/${n}`, state.v.get(n)!);
  const time: Record<string, string> = clock ? { wallMinutes: String(clock.wallMinutes), cpuMinutes: String(clock.cpuMinutes) } : {};
  writeFileSync(join(dir, CHECKPOINT), writeSafetensors(tensorsToWrite(all), { step: String(step), seed: String(seed), ...time }));
}

/**
 * Restores weights and moments from `dir`; returns the step to continue from (0 when there
 * is no checkpoint) and the training time recorded so far.
 */
export function loadTrainingCheckpoint(dir: string, seed: number, params: Map<string, tf.Variable>, state: OptimizerState): { step: number; clock: TrainingClock } {
  const file = join(dir, CHECKPOINT);
  if (!existsSync(file)) return { step: 0, clock: { wallMinutes: 0, cpuMinutes: 0 } };
  const { tensors, metadata } = parseSafetensors(readFileSync(file));
  if (Number(metadata.seed) !== seed) throw new Error(`checkpoint in ${dir} was made with seed ${metadata.seed}, not ${seed}; delete it or pass --seed ${metadata.seed}`);
  tf.tidy(() => {
    for (const [n, p] of params) {
      p.assign(tf.tensor(tensors.get(`param/${n}`)!.data, p.shape));
      state.m.get(n)!.assign(tf.tensor(tensors.get(`m/${n}`)!.data, p.shape));
      state.v.get(n)!.assign(tf.tensor(tensors.get(`v/${n}`)!.data, p.shape));
    }
  });
  state.step = Number(metadata.step);
  return { step: state.step, clock: { wallMinutes: Number(metadata.wallMinutes ?? 0), cpuMinutes: Number(metadata.cpuMinutes ?? 0) } };
}

/** Wall and CPU time (all threads of this process: the gradient worker too) since `since`, on top of `before`. */
export function trainingClock(before: TrainingClock, since: { wall: number; cpu: NodeJS.CpuUsage }): TrainingClock {
  const cpu = process.cpuUsage(since.cpu);
  return { wallMinutes: before.wallMinutes + (Date.now() - since.wall) / 60000, cpuMinutes: before.cpuMinutes + (cpu.user + cpu.system) / 6e7 };
}
