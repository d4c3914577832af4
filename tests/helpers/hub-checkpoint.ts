/** Tiny GPT-2 checkpoints in Hugging Face layout, written to a temp folder for hub tests. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gpt2ConfigToJson, type Gpt2Config } from '../../src/core/model/config';
import { writeSafetensors, type TensorToWrite } from '../../src/core/model/safetensors';
import { gpt2ParamShapes } from '../../src/core/model/weights';

export const TINY_CONFIG: Gpt2Config = {
  arch: 'gpt2',
  vocabSize: 16,
  nPositions: 8,
  nEmbd: 8,
  nLayer: 2,
  nHead: 2,
  nInner: 32,
  layerNormEpsilon: 1e-5,
  activation: 'gelu_new',
  eosTokenId: 15,
};

export const TINY_VOCAB_JSON = JSON.stringify(Object.fromEntries(Array.from({ length: 16 }, (_, i) => [String.fromCharCode(97 + i), i])));
export const TINY_MERGES = '#version: 0.2\na b\nc d\n';

/** Deterministic parameter values for every GPT-2 tensor of `TINY_CONFIG` (name → tensor). */
export function tinyTensors(prefix = ''): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  let seed = 1;
  for (const [name, shape] of gpt2ParamShapes(TINY_CONFIG)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = Math.sin(seed * 7.1 + i * 0.37);
    seed++;
    out[prefix + name] = { shape, data };
  }
  return out;
}

export interface TinyCheckpointOptions {
  prefix?: string;
  /** Split the weights into this many shards with an index (default: one model.safetensors). */
  shards?: number;
  tokenizer?: 'vocab+merges' | 'tokenizer.json' | 'none';
  weights?: boolean;
  config?: boolean;
}

/** Writes a checkpoint folder; returns its path. */
export async function writeTinyCheckpoint(dir: string, options: TinyCheckpointOptions = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  if (options.config !== false) await writeFile(join(dir, 'config.json'), JSON.stringify(gpt2ConfigToJson(TINY_CONFIG), null, 2));
  const tokenizer = options.tokenizer ?? 'vocab+merges';
  if (tokenizer === 'vocab+merges') {
    await writeFile(join(dir, 'vocab.json'), TINY_VOCAB_JSON);
    await writeFile(join(dir, 'merges.txt'), TINY_MERGES);
  } else if (tokenizer === 'tokenizer.json') {
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'BPE', vocab: JSON.parse(TINY_VOCAB_JSON), merges: ['a b'] } }));
  }
  if (options.weights === false) return dir;
  const tensors = tinyTensors(options.prefix ?? '');
  const shards = options.shards ?? 1;
  if (shards <= 1) {
    await writeFile(join(dir, 'model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
    return dir;
  }
  const names = Object.keys(tensors).sort();
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (let s = 0; s < shards; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    const part: Record<string, TensorToWrite> = {};
    names.forEach((name, i) => {
      if (i % shards === s) {
        part[name] = tensors[name];
        weightMap[name] = file;
        totalSize += tensors[name].data.byteLength;
      }
    });
    await writeFile(join(dir, file), writeSafetensors(part, { format: 'pt' }));
  }
  await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2));
  return dir;
}
