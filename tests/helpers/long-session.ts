/**
 * A long session on one loaded engine (tiny generated checkpoint): 100 attributions,
 * 5 knowledge-neuron searches, 20 interventions, edits applied and reverted, 3 short mask
 * trainings in a row, and predictions in between. tf.memory() must come back to the same
 * tensor count and bytes after every phase: a leak of one tensor per call would show as 100.
 * Run on the current backend by tests/long-session*.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { Gpt2Engine } from '../../src/core/engine';
import { loadCheckpointFiles } from '../../src/core/hub/checkpoint';
import type { FileLike } from '../../src/core/hub/source';
import { disposeMaskState } from '../../src/core/subnetwork/mask';
import { trainSubnetwork } from '../../src/core/subnetwork/trainer';
import { BYTE_TO_UNICODE } from '../../src/core/tokenizers/bpe';
import { makeRandomCheckpoint, smallConfig } from '../../scripts/lib/random-checkpoint';

/** A byte-level tokenizer with a few merges and a random model of matching vocabulary. */
export function tinyCheckpointFiles(): FileLike[] {
  const vocab: Record<string, number> = Object.fromEntries(BYTE_TO_UNICODE.map((ch, i) => [ch, i]));
  const merges = ['Ġ c', 'Ġc a', 'Ġca p', 'Ġ P', 'ĠP a', 'ĠPa r', 'ĠPar i', 'ĠPari s', 'Ġ i', 'Ġi s'];
  for (const m of merges) vocab[m.replace(' ', '')] = Object.keys(vocab).length;
  vocab['<|endoftext|>'] = Object.keys(vocab).length;
  const size = Object.keys(vocab).length;
  const { configJson, safetensors } = makeRandomCheckpoint({ config: smallConfig({ vocabSize: size, eosTokenId: size - 1, nPositions: 32, nEmbd: 16, nInner: 32, nLayer: 2 }), seed: 11, std: 0.3 });
  const enc = new TextEncoder();
  const files: Record<string, Uint8Array> = {
    'config.json': enc.encode(JSON.stringify(configJson)),
    'vocab.json': enc.encode(JSON.stringify(vocab)),
    'merges.txt': enc.encode(`#version: 0.2\n${merges.join('\n')}\n`),
    'model.safetensors': safetensors,
  };
  return Object.entries(files).map(([name, bytes]) => ({ name, size: bytes.length, arrayBuffer: async () => bytes.slice().buffer }));
}

export interface SessionSize {
  attributions: number;
  searches: number;
  interventions: number;
  trainings: number;
}

const FULL_SESSION: SessionSize = { attributions: 100, searches: 5, interventions: 20, trainings: 3 };

/** Runs the session on the current backend, checking tf.memory() after each phase. */
export async function runLongSession(size: SessionSize = FULL_SESSION): Promise<void> {
  const engine = Gpt2Engine.fromCheckpoint(await loadCheckpointFiles({ kind: 'files', files: tinyCheckpointFiles() }));
  const prompt = 'The cap of France is';
  const target = ' Paris';
  const snapshot = () => ({ tensors: tf.memory().numTensors, bytes: tf.memory().numBytes });

  async function oneOfEach(): Promise<void> {
    const { promptIds, targetIds } = engine.encodeFact(prompt, target);
    await engine.predict({ prompt, target });
    await engine.attribute(promptIds, targetIds, { steps: 4 });
    await engine.intervene({ items: [{ prompt, target }], neurons: [[0, 1], [1, 3]], scale: 0 });
    await engine.eraseNeurons({ neurons: [[1, 2]] });
    await engine.revertEdit();
  }

  await oneOfEach(); // first calls may build lasting caches (e.g. transposed weights)
  const baseline = snapshot();
  const { promptIds, targetIds } = engine.encodeFact(prompt, target);

  for (let i = 0; i < size.attributions; i++) await engine.attribute(promptIds, targetIds, { steps: 4, rule: i % 2 ? 'left' : 'right' });
  expect(snapshot()).toEqual(baseline);
  for (let i = 0; i < size.searches; i++) await engine.factNeurons({ prompts: [prompt, 'In France, the cap is'], target, attribution: { steps: 4 } });
  expect(snapshot()).toEqual(baseline);

  for (let i = 0; i < size.interventions; i++) {
    await engine.intervene({ items: [{ prompt, target }, { prompt: 'The cap of Peru is', target: ' is' }], neurons: [[i % 2, i], [1, 31 - i]], scale: i % 3 });
  }
  expect(snapshot()).toEqual(baseline);

  for (let i = 0; i < 5; i++) {
    await engine.eraseNeurons({ neurons: [[0, i]], label: `n${i}` });
    await engine.predict({ prompt, target });
  }
  await engine.revertEdit();
  expect(snapshot()).toEqual(baseline);

  const item = { promptIds, targetIds };
  const control = [{ promptIds: engine.promptIds({ prompt: 'The cap of Peru' }), targetIds: engine.targetIds(undefined, ' is').ids }];
  for (let run = 0; run < size.trainings; run++) {
    const data = { target: [item], controlKg: control, controlLmTokens: engine.tokenizer.encode('The cap is Paris. '.repeat(8)) };
    const { result, state } = await trainSubnetwork(engine.weights, data, { steps: 4, controlKgBatch: 1, controlLmBatch: 2, controlLmBlock: 16, evalEvery: 2, checkpointEvery: 2, seed: run });
    expect(result.status).toBe('completed');
    disposeMaskState(state);
    expect(snapshot()).toEqual(baseline);
  }

  await oneOfEach();
  expect(snapshot()).toEqual(baseline);
  engine.dispose();
}
