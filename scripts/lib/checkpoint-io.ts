/** Writing a GPT-2 model folder in Hugging Face layout (the runtime reads it with the same loader as real GPT-2). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { gpt2ConfigToJson, type Gpt2Config } from '../../src/core/model/config';
import { writeSafetensors, type SafetensorsDtype, type TensorToWrite } from '../../src/core/model/safetensors';

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
