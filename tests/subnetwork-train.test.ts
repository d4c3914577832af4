import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forward } from '../src/core/model/gpt2';
import { disposeWeights, type Gpt2Weights } from '../src/core/model/weights';
import { makeRng } from '../src/core/random';
import { binaryFromState } from '../src/core/subnetwork/binary';
import type { KgItem } from '../src/core/subnetwork/data';
import { createMaskState, disposeMaskState, masksForForward, disposeMasks } from '../src/core/subnetwork/mask';
import { kgScores } from '../src/core/subnetwork/metrics';
import { SubnetController, type SubnetProgress } from '../src/core/subnetwork/progress';
import { BROWSER_PROFILE, deviationsOf, lambdaRegAt, learningRateAt, resolveSettings } from '../src/core/subnetwork/settings';
import { SubnetTrainer, trainSubnetwork } from '../src/core/subnetwork/trainer';
import { smallConfig } from '../scripts/lib/random-checkpoint';
import { randomFixture, tensorCount, useWasm } from './helpers/tf';

beforeAll(useWasm);

describe('schedules and settings', () => {
  it('λ_reg is 2 for the first half, then linear to 3 at the last step', () => {
    const s = resolveSettings({ steps: 10 });
    expect([0, 1, 2, 3, 4].map((t) => lambdaRegAt(t, s))).toEqual([2, 2, 2, 2, 2]);
    expect(lambdaRegAt(5, s)).toBeCloseTo(2.2, 12);
    expect(lambdaRegAt(7, s)).toBeCloseTo(2.6, 12);
    expect(lambdaRegAt(9, s)).toBe(3);
    const node = resolveSettings();
    expect(lambdaRegAt(19_999, node)).toBe(2);
    expect(lambdaRegAt(39_999, node)).toBe(3);
    expect(lambdaRegAt(9, resolveSettings({ steps: 10, lambdaReg: { init: 10, final: 15 } }))).toBe(15);
    expect(() => resolveSettings({ lambdaReg: { init: -1 } })).toThrow(/lambdaReg init and final must be numbers from 0 to 1000 .* got -1 → 3/);
    expect(() => resolveSettings({ lambdaReg: { final: Number.NaN } })).toThrow(/lambdaReg/);
  });

  it('warm-up is LinearLR from 1e−10 over 10% of the steps, then constant 0.2', () => {
    const s = resolveSettings({ steps: 100 });
    expect(learningRateAt(0, s)).toBeCloseTo(0.2e-10, 20);
    expect(learningRateAt(5, s)).toBeCloseTo(0.2 * (1e-10 + (1 - 1e-10) * 0.5), 12);
    expect(learningRateAt(10, s)).toBe(0.2);
    expect(learningRateAt(99, s)).toBe(0.2);
    expect(learningRateAt(0, resolveSettings({ steps: 100, warmupFraction: 0 }))).toBe(0.2);
  });

  it('records every browser-profile deviation from the Node defaults', () => {
    const s = resolveSettings({ profile: 'browser' });
    expect(s).toMatchObject(BROWSER_PROFILE);
    expect(s.adam.epsilon).toBe(1e-8);
    const deviations = deviationsOf(s, 12);
    expect(deviations).toEqual([
      { setting: 'layers', value: [10, 11], default: [6, 7, 8, 9, 10, 11] },
      { setting: 'steps', value: 2000, default: 40_000 },
      { setting: 'controlKgBatch', value: 64, default: 250 },
      { setting: 'controlLmBatch', value: 2, default: 10 },
      { setting: 'controlLmBlock', value: 128, default: 512 },
      { setting: 'vocabChunk', value: 8192, default: 0 },
    ]);
    expect(deviationsOf(resolveSettings(), 12)).toEqual([]);
    expect(deviationsOf(resolveSettings({ lambdas: { suppress: 2 } }), 12)).toEqual([{ setting: 'lambdas.suppress', value: 2, default: 1.5 }]);
    expect(() => resolveSettings({ steps: 0 })).toThrow(/steps must be a positive integer/);
  });
});

describe('training on a tiny random model', () => {
  const config = smallConfig({ nLayer: 2, vocabSize: 64, eosTokenId: 63 });
  let weights: Gpt2Weights;
  let target: KgItem[];
  let control: KgItem[];
  let lmTokens: number[];

  /** Items whose target is the full model's greedy next token, so the model "knows" them. */
  function knownItems(rng: () => number, n: number): KgItem[] {
    const prompts = Array.from({ length: n }, () => Array.from({ length: 3 + Math.floor(rng() * 3) }, () => Math.floor(rng() * 60)));
    return prompts.map((promptIds) => {
      const logits = forward(weights, tf.tensor2d([promptIds], [1, promptIds.length], 'int32'), { logitPositions: [-1] });
      const best = logits.argMax(1).dataSync()[0];
      logits.dispose();
      return { promptIds, targetIds: [best] };
    });
  }

  beforeAll(() => {
    weights = randomFixture({ config, seed: 21, std: 0.35 }).weights;
    const rng = makeRng(4);
    target = knownItems(rng, 3);
    control = knownItems(rng, 12);
    lmTokens = Array.from({ length: 400 }, () => Math.floor(rng() * 63));
  });
  afterAll(() => disposeWeights(weights));

  const base = { steps: 30, controlKgBatch: 4, controlLmBatch: 2, controlLmBlock: 16, evalEvery: 10, checkpointEvery: 10, seed: 5 };

  it('is deterministic under a seed (chunked and unchunked KL train the same way)', async () => {
    const run = async (options: object) => {
      const trainer = new SubnetTrainer(weights, { target, controlKg: control, controlLmTokens: lmTokens }, { ...base, steps: 10, warmupFraction: 0, ...options });
      for (let i = 0; i < 3; i++) await trainer.step();
      const values = [...trainer.state.logits.values()].map((v) => Array.from(v.dataSync()));
      trainer.dispose(false);
      return values.flat();
    };
    const a = await run({});
    const b = await run({});
    expect(b).toEqual(a);
    expect(a.some((x) => Math.abs(x - Math.log(0.45 / 0.55)) > 1e-3)).toBe(true); // it did move
    const chunked = await run({ vocabChunk: 16 });
    const diff = Math.max(...chunked.map((x, i) => Math.abs(x - a[i])));
    expect(diff).toBeLessThan(1e-3);
    const other = await run({ seed: 6 });
    expect(other).not.toEqual(a);
  });

  it('leaks no tensors across steps', async () => {
    const trainer = new SubnetTrainer(weights, { target, controlKg: control, controlLmTokens: lmTokens }, { ...base, vocabChunk: 16, noise: 'per-step' });
    await trainer.step();
    const before = tensorCount();
    for (let i = 0; i < 3; i++) await trainer.step();
    await trainer.evaluate();
    expect(tensorCount()).toBe(before);
    trainer.dispose(false);
  });

  it('30 steps: the target probability under the remaining model drops, control stays closer', async () => {
    const events: SubnetProgress[] = [];
    const checkpoints: number[] = [];
    const before = tensorCount();
    const { result, state } = await trainSubnetwork(weights, { target, controlKg: control, controlLmTokens: lmTokens }, { ...base, modelId: 'test:tiny' }, {
      onProgress: (e) => events.push(e),
      onCheckpoint: ({ step }) => void checkpoints.push(step),
    });
    expect(result.status).toBe('completed');
    expect(result.steps).toBe(30);
    expect(result.curve).toHaveLength(30);
    expect(result.evals.map((e) => e.step)).toEqual([0, 10, 20, 30]);
    expect(checkpoints).toEqual([10, 20, 30]);
    expect(events.filter((e) => e.kind === 'step')).toHaveLength(30);
    expect(result.deviations.map((d) => d.setting)).toEqual(expect.arrayContaining(['steps', 'controlKgBatch', 'controlLmBlock', 'controlLmBlocks']));
    for (const r of result.curve) for (const v of [r.losses.suppress, r.losses.controlKg, r.losses.controlLm, r.losses.density]) expect(Number.isFinite(v)).toBe(true);
    const first = result.evals[0];
    const last = result.evals[result.evals.length - 1];
    // at step 0 (eval mode) the remaining model is the full model
    expect(first.target.meanProb).toBeCloseTo(result.full.target.meanProb, 6);
    const targetDrop = (result.full.target.meanProb - last.target.meanProb) / result.full.target.meanProb;
    const controlChange = Math.abs(result.full.control.meanProb - last.control.meanProb) / result.full.control.meanProb;
    expect(targetDrop).toBeGreaterThan(0.2);
    expect(targetDrop).toBeGreaterThan(controlChange);
    expect(result.sparsity.sparsity).toBeLessThan(1);
    // the returned state is the caller's; the mask it encodes reproduces the last evaluation
    const masks = masksForForward(state, { mode: 'eval', view: 'remaining' });
    expect((await kgScores(weights, target, { masks })).meanProb).toBeCloseTo(last.target.meanProb, 6);
    disposeMasks(masks);
    expect((await binaryFromState(state)).entries).toHaveLength(4);
    disposeMaskState(state);
    expect(tensorCount()).toBe(before);
  });

  it('pauses, resumes and stops through the controller', async () => {
    const controller = new SubnetController();
    const kinds: string[] = [];
    const promise = trainSubnetwork(weights, { target, controlKg: control }, { ...base, steps: 50 }, {
      controller,
      onProgress: (e) => {
        kinds.push(e.kind);
        if (e.kind === 'step' && e.record.step === 2) controller.pause();
        if (e.kind === 'paused') setTimeout(() => controller.resume(), 20);
        if (e.kind === 'step' && e.record.step === 4) controller.stop();
      },
    });
    const { result, state } = await promise;
    expect(result.status).toBe('stopped');
    expect(result.steps).toBe(4);
    expect(kinds).toContain('paused');
    expect(kinds).toContain('resumed');
    expect(result.evals.at(-1)!.step).toBe(4);
    expect(result.deviations).toContainEqual({ setting: 'controlLm', value: 'none', default: 'WikiText-2 train blocks' });
    disposeMaskState(state);
  });

  it('a run stopped and resumed from its checkpoint (logits + Adam moments) equals the uninterrupted run', async () => {
    const data = { target, controlKg: control, controlLmTokens: lmTokens };
    const options = { ...base, steps: 6, checkpointEvery: 100 };
    const straight = await trainSubnetwork(weights, data, options);
    const expected = await Promise.all([...straight.state.logits.values()].map((v) => v.data()));
    disposeMaskState(straight.state);
    const controller = new SubnetController();
    let saved: { step: number; logits: Map<string, Float32Array>; moments: Map<string, { m: Float32Array; v: Float32Array }> } | null = null;
    const first = await trainSubnetwork(weights, data, options, {
      controller,
      onProgress: (e) => e.kind === 'step' && e.record.step === 3 && controller.stop(),
      onCheckpoint: async ({ step, state, trainer }) => {
        const logits = new Map<string, Float32Array>();
        for (const [name, v] of state.logits) logits.set(name, (await v.data()) as Float32Array);
        saved = { step, logits, moments: await trainer.exportMoments() };
      },
    });
    expect(first.result.status).toBe('stopped');
    disposeMaskState(first.state);
    expect(saved!.step).toBe(3);
    const state = createMaskState(config, { layers: first.result.layers, initial: saved!.logits });
    const second = await trainSubnetwork(weights, data, { ...options, state, resume: { step: saved!.step, moments: saved!.moments } });
    expect(second.result.resumedFrom).toBe(3);
    expect(second.result.steps).toBe(6);
    expect(second.result.curve.map((r) => r.step)).toEqual([4, 5, 6]);
    const resumed = await Promise.all([...second.state.logits.values()].map((v) => v.data()));
    resumed.forEach((values, i) => expect(Array.from(values)).toEqual(Array.from(expected[i])));
    disposeMaskState(second.state);
    // without the moments Adam restarts, which changes the run and is recorded
    const noMoments = await trainSubnetwork(weights, data, { ...options, state: createMaskState(config, { layers: first.result.layers, initial: saved!.logits }), resume: { step: 3 } });
    expect(noMoments.result.deviations).toContainEqual({ setting: 'resumedAdamMoments', value: 'zero', default: 'restored' });
    disposeMaskState(noMoments.state);
  });

  it('an aborted signal cancels with CancelledError and frees the state', async () => {
    const before = tensorCount();
    const abort = new AbortController();
    abort.abort();
    await expect(trainSubnetwork(weights, { target, controlKg: control }, { ...base, steps: 5 }, { signal: abort.signal })).rejects.toThrow(/cancelled/);
    expect(tensorCount()).toBe(before);
    // an abort while paused wakes the paused loop
    const controller = new SubnetController();
    const later = new AbortController();
    const run = trainSubnetwork(weights, { target, controlKg: control }, { ...base, steps: 5 }, {
      controller,
      signal: later.signal,
      onProgress: (e) => {
        if (e.kind === 'step') controller.pause();
        if (e.kind === 'paused') setTimeout(() => later.abort(), 10);
      },
    });
    await expect(run).rejects.toThrow(/cancelled/);
    expect(tensorCount()).toBe(before);
  });
});
