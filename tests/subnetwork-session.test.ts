/**
 * The engine's subnetwork session (what the worker exposes to the lab): train, pause/stop,
 * evaluate, remove/restore on predictions, export and import, and its errors.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Gpt2Engine } from '../src/core/engine';
import type { Fact, Relation } from '../src/core/facts/types';
import { loadCheckpointFiles } from '../src/core/hub/checkpoint';
import type { SubnetProgress } from '../src/core/subnetwork/progress';
import type { SubnetFacts } from '../src/core/subnetwork/session';
import { tinyCheckpointFiles } from './helpers/long-session';
import { useWasm } from './helpers/tf';

const relation: Relation = { id: 'capital_of', name: 'capital', description: 'capital city', templates: ['The cap of {subject} is'], maskedTemplates: [], heldOutTemplates: [] };
const fact = (subject: string, object: string): Fact => ({ id: `capital_of/${subject.toLowerCase()}`, relation: 'capital_of', subject, object });
const facts: SubnetFacts = { relations: [relation], target: [fact('France', 'Paris'), fact('Peru', 'Lima')], control: [fact('Spain', 'Madrid'), fact('Chad', 'Sana')] };
const options = { steps: 6, controlKgBatch: 2, evalEvery: 3, checkpointEvery: 3, seed: 3, lambdas: { controlLm: 0 } };

describe('SubnetSession through the engine', () => {
  let engine: Gpt2Engine;
  beforeAll(async () => {
    await useWasm();
    engine = Gpt2Engine.fromCheckpoint(await loadCheckpointFiles({ kind: 'files', files: tinyCheckpointFiles() }));
  });

  it('has no mask before training, and says so', async () => {
    expect(engine.subnet.status()).toEqual({ mask: null, removed: false, training: 'idle' });
    expect(() => engine.subnet.remove()).toThrow(/no subnetwork mask to remove/);
    await expect(engine.subnet.exportMask('bits')).rejects.toThrow(/train one or import/);
    expect(() => engine.subnet.control('pause')).toThrow(/No subnetwork is training/);
  });

  it('refuses empty and overlapping sets', async () => {
    await expect(engine.subnet.train({ ...facts, target: [] }, options, {})).rejects.toThrow(/TargetKG is empty/);
    await expect(engine.subnet.train({ ...facts, control: [facts.target[0]] }, options, {})).rejects.toThrow(/share 1 fact/);
  });

  it('trains with streamed progress, pauses and resumes, then removes the subnetwork from predictions', async () => {
    const events: SubnetProgress[] = [];
    const before = tf.memory().numTensors;
    const result = await engine.subnet.train(facts, options, {
      onProgress: (e) => {
        events.push(e);
        if (e.kind === 'step' && e.record.step === 2) {
          expect(engine.subnet.control('pause').training).toBe('paused');
          setTimeout(() => engine.subnet.control('resume'), 20);
        }
      },
    });
    expect(result.status).toBe('completed');
    expect(result.steps).toBe(6);
    expect(events.filter((e) => e.kind === 'step')).toHaveLength(6);
    expect(events.map((e) => e.kind)).toContain('paused');
    expect(events.map((e) => e.kind)).toContain('resumed');
    const status = engine.subnet.status();
    expect(status.mask?.source).toBe('trained');
    expect(status.training).toBe('idle');

    const full = await engine.predict({ prompt: 'The cap of France is', target: ' Paris' });
    engine.subnet.remove();
    const remaining = await engine.predict({ prompt: 'The cap of France is', target: ' Paris' });
    const sparsity = status.mask!.sparsity.sparsity;
    // With weights removed the prediction changes unless nothing was removed.
    if (sparsity > 0) expect(remaining.target!.prob).not.toBeCloseTo(full.target!.prob, 9);
    engine.subnet.restore();
    const again = await engine.predict({ prompt: 'The cap of France is', target: ' Paris' });
    expect(again.target!.prob).toBe(full.target!.prob);
    // Only the mask logits are kept (one tensor per masked matrix, for export); nothing else is left behind.
    expect(tf.memory().numTensors - before).toBe(4 * status.mask!.layers.length);
  });

  it('evaluates ΔPPL with the random baseline, and exports and re-imports the mask', async () => {
    const evaluation = await engine.subnet.evaluate(facts);
    expect(evaluation.random).toBeDefined();
    expect(evaluation.full.target.ppl).toBeGreaterThan(0);
    expect(evaluation.delta.target).toBeCloseTo(evaluation.remaining.target.ppl - evaluation.full.target.ppl, 9);
    const bits = await engine.subnet.exportMask('bits');
    const logits = await engine.subnet.exportMask('logits');
    const sparsity = engine.subnet.status().mask!.sparsity.sparsity;
    const imported = engine.subnet.importMask(bits, 'mask.safetensors');
    expect(imported.mask).toMatchObject({ source: 'imported', encoding: 'bits' });
    expect(imported.mask!.sparsity.sparsity).toBe(sparsity);
    await expect(engine.subnet.exportMask('logits')).rejects.toThrow(/export it as bits/);
    expect(engine.subnet.importMask(logits).mask!.sparsity.sparsity).toBe(sparsity);
    expect(() => engine.subnet.importMask(new Uint8Array([1, 2, 3]), 'broken.safetensors')).toThrow(/broken\.safetensors/);
  });

  it('stop ends training early with the mask so far', async () => {
    const result = await engine.subnet.train(facts, { ...options, steps: 50 }, {
      onProgress: (e) => {
        if (e.kind === 'step' && e.record.step === 2) engine.subnet.control('stop');
      },
    });
    expect(result.status).toBe('stopped');
    expect(result.steps).toBe(2);
    expect(engine.subnet.status().mask?.source).toBe('trained');
  });
});
