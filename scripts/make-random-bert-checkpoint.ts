/**
 * Writes a random BERT masked-LM checkpoint in Hugging Face layout (config.json,
 * model.safetensors, vocab.txt), for tests and benchmarks.
 *
 *   npx tsx scripts/make-random-bert-checkpoint.ts --out DIR [--layers N] [--hidden D]
 *     [--heads H] [--vocab V] [--seed S] [--dtype F32|F16] [--gamma-beta]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { SafetensorsDtype } from '../src/core/model/safetensors';
import { makeRandomBertCheckpoint, smallBertConfig } from './lib/random-bert-checkpoint';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    layers: { type: 'string', default: '2' },
    hidden: { type: 'string', default: '64' },
    heads: { type: 'string', default: '4' },
    vocab: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    dtype: { type: 'string', default: 'F32' },
    'gamma-beta': { type: 'boolean', default: false },
  },
});
if (!values.out) {
  console.error('usage: make-random-bert-checkpoint --out DIR [--layers N] [--hidden D] [--heads H] [--vocab V] [--seed S] [--dtype F32|F16] [--gamma-beta]');
  process.exit(2);
}
const hidden = Number(values.hidden);
const config = smallBertConfig({ nLayer: Number(values.layers), hiddenSize: hidden, intermediateSize: 4 * hidden, nHead: Number(values.heads), vocabSize: Number(values.vocab), maxPositions: 512 });
const { configJson, safetensors, vocabTxt } = makeRandomBertCheckpoint({ config, seed: Number(values.seed), dtype: values.dtype as SafetensorsDtype, gammaBeta: values['gamma-beta'] });
mkdirSync(values.out, { recursive: true });
writeFileSync(join(values.out, 'config.json'), JSON.stringify({ ...configJson, factlab_note: 'RANDOM WEIGHTS: knows nothing; for tests and benchmarks only.' }, null, 2));
writeFileSync(join(values.out, 'model.safetensors'), safetensors);
writeFileSync(join(values.out, 'vocab.txt'), vocabTxt);
console.log(`wrote ${values.out}: BERT, ${config.nLayer} layers, d=${config.hiddenSize}, ${config.nHead} heads, vocab ${config.vocabSize}, ${(safetensors.byteLength / 1e6).toFixed(1)} MB`);
