/**
 * Cancellation leaves the engine usable: model loading, attribution, evaluation and mask
 * training are cancelled at their k-th cancellation point (for every k until the work
 * finishes); each rejects with CancelledError, leaves no tensors behind, and the same work
 * run again afterwards gives the uninterrupted result.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gpt2Engine } from '../src/core/engine';
import { CancelledError } from '../src/core/errors';
import { kgScores } from '../src/core/subnetwork/metrics';
import { disposeMaskState } from '../src/core/subnetwork/mask';
import { trainSubnetwork } from '../src/core/subnetwork/trainer';
import { BYTE_TO_UNICODE } from '../src/core/tokenizers/bpe';
import { makeRandomCheckpoint, smallConfig } from '../scripts/lib/random-checkpoint';
import { abortAtCheck } from './helpers/cancel';
import { useWasm } from './helpers/tf';

/** Runs `work` cancelled at check 1, 2, … until a run completes; returns how many points were hit. */
async function cancelEverywhere<T>(work: (signal: AbortSignal) => Promise<T>, cleanup: (result: T) => void = () => {}): Promise<number> {
  for (let k = 1; k < 1000; k++) {
    const before = tf.memory().numTensors;
    const { signal } = abortAtCheck(k);
    try {
      cleanup(await work(signal));
      return k - 1;
    } catch (err) {
      expect(err).toBeInstanceOf(CancelledError);
    }
    expect(tf.memory().numTensors, `tensors left after a cancel at check ${k}`).toBe(before);
  }
  throw new Error('never completed');
}

function writeTinyModel(): string {
  const dir = mkdtempSync(join(tmpdir(), 'factlab-cancel-'));
  const vocab: Record<string, number> = Object.fromEntries(BYTE_TO_UNICODE.map((ch, i) => [ch, i]));
  vocab['<|endoftext|>'] = 256;
  const { configJson, safetensors } = makeRandomCheckpoint({ config: smallConfig({ vocabSize: 257, eosTokenId: 256, nPositions: 32, nEmbd: 16, nInner: 32, nLayer: 2 }), seed: 5, std: 0.3 });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configJson));
  writeFileSync(join(dir, 'model.safetensors'), safetensors);
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(vocab));
  writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\n');
  return dir;
}

describe('cancellation leaves the engine usable', () => {
  let dir: string;
  let engine: Gpt2Engine;
  beforeAll(async () => {
    await useWasm();
    dir = writeTinyModel();
    engine = await Gpt2Engine.load({ kind: 'folder', path: dir });
  });
  afterAll(() => engine?.dispose());

  const prompt = 'The cap of France is';
  const target = ' Paris';

  it('model loading', async () => {
    const points = await cancelEverywhere((signal) => Gpt2Engine.load({ kind: 'folder', path: dir }, { signal }), (e) => e.dispose());
    expect(points).toBeGreaterThanOrEqual(3);
    expect((await engine.predict({ prompt })).top.length).toBeGreaterThan(0);
  });

  it('attribution', async () => {
    const { promptIds, targetIds } = engine.encodeFact(prompt, target);
    const reference = await engine.attribute(promptIds, targetIds, { steps: 4 });
    const points = await cancelEverywhere((signal) => engine.attribute(promptIds, targetIds, { steps: 4 }, { signal }));
    expect(points).toBeGreaterThanOrEqual(2);
    const again = await engine.attribute(promptIds, targetIds, { steps: 4 });
    expect(again.layers.map((l) => Array.from(l.scores))).toEqual(reference.layers.map((l) => Array.from(l.scores)));
  });

  it('evaluation', async () => {
    const items = ['The cap of Peru is', 'The cap of Chad is', 'The cap of Fiji is'].map((p) => engine.encodeFact(p, target));
    const reference = await kgScores(engine.weights, items, { batchSize: 1 });
    const points = await cancelEverywhere((signal) => kgScores(engine.weights, items, { batchSize: 1, signal }));
    expect(points).toBeGreaterThanOrEqual(2);
    expect(await kgScores(engine.weights, items, { batchSize: 1 })).toEqual(reference);
    // In the worker a cancel arrives as a message: evaluation must let it in between batches.
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 0);
    await expect(kgScores(engine.weights, items, { batchSize: 1, signal: controller.signal })).rejects.toBeInstanceOf(CancelledError);
  });

  it('mask training', async () => {
    const data = { target: [engine.encodeFact(prompt, target)], controlKg: [engine.encodeFact('The cap of Peru is', target)] };
    const options = { steps: 3, controlKgBatch: 1, controlLmBlock: 16, evalEvery: 1, seed: 1, lambdas: { controlLm: 0 } };
    const train = (signal?: AbortSignal) => trainSubnetwork(engine.weights, data, options, { signal });
    const reference = await train();
    const referenceLogits = [...reference.state.logits.values()].map((v) => Array.from(v.dataSync()));
    disposeMaskState(reference.state);
    const points = await cancelEverywhere((signal) => train(signal), ({ state }) => disposeMaskState(state));
    expect(points).toBeGreaterThanOrEqual(3);
    const again = await train();
    expect([...again.state.logits.values()].map((v) => Array.from(v.dataSync()))).toEqual(referenceLogits);
    disposeMaskState(again.state);
  });
});
