/**
 * A training step runs as units of bounded work (micro-batches, a layer or vocabulary chunk per
 * unit) with a cancellation check between them. Its gradient must be the one a single tape over
 * the unsplit batch gives, however finely it is split, and a cancel at any unit boundary must
 * leave the trainer exactly as the last complete step left it.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelledError } from '../src/core/errors';
import { disposeWeights, type Gpt2Weights } from '../src/core/model/weights';
import { makeRng } from '../src/core/random';
import { hiddenRows, kgBatch, klRowIndices, lmBlocks, microBatches, padBatch, type KgItem } from '../src/core/subnetwork/data';
import { disposeReference, headOf, klLoss, referenceFromHidden, uniformReference } from '../src/core/subnetwork/losses';
import { masksForForward, noiseKey } from '../src/core/subnetwork/mask';
import { kgScores } from '../src/core/subnetwork/metrics';
import { resolveSettings, unitTokens, type SubnetOptions } from '../src/core/subnetwork/settings';
import { SubnetTrainer, type SubnetData } from '../src/core/subnetwork/trainer';
import { gpt2SmallConfig, smallConfig } from '../scripts/lib/random-checkpoint';
import { abortAtCheck } from './helpers/cancel';
import { maxRelativeError, randomFixture, tensorCount, useWasm } from './helpers/tf';

beforeAll(useWasm);

it('cuts a batch into consecutive micro-batches of at most maxTokens padded tokens, at least one sequence each', () => {
  const seqs = [[1, 2, 3], [1, 2], [1, 2, 3, 4, 5, 6], [1], [1, 2]];
  expect(microBatches(seqs, 6)).toEqual([[0, 1], [2], [3, 4]]);
  expect(microBatches(seqs, 1)).toEqual([[0], [1], [2], [3], [4]]);
  expect(microBatches(seqs, Infinity)).toEqual([[0, 1, 2, 3, 4]]);
});

describe('a training step in units', () => {
  // Three layers, so the default masked layers [1, 2] leave one shared layer below them.
  const config = smallConfig({ nLayer: 3, vocabSize: 64, eosTokenId: 63 });
  let weights: Gpt2Weights;
  let data: SubnetData;
  const block = 12;
  const base: SubnetOptions = { steps: 10, warmupFraction: 0, controlKgBatch: 100, controlLmBatch: 100, controlLmBlock: block, seed: 9 };
  /** Every sequence its own micro-batch, one head row per unit. */
  const tiny = { unitMacs: 1000 };

  beforeAll(() => {
    weights = randomFixture({ config, seed: 31, std: 0.3 }).weights;
    const rng = makeRng(8);
    const items = (n: number): KgItem[] =>
      Array.from({ length: n }, () => ({ promptIds: Array.from({ length: 2 + Math.floor(rng() * 5) }, () => Math.floor(rng() * 63)), targetIds: Array.from({ length: 1 + Math.floor(rng() * 2) }, () => Math.floor(rng() * 63)) }));
    data = { target: items(3), controlKg: items(5), controlLmTokens: Array.from({ length: 3 * block + 5 }, () => Math.floor(rng() * 63)) };
  });
  afterAll(() => disposeWeights(weights));

  const logitsOf = (trainer: SubnetTrainer) => [...trainer.state.logits.values()].flatMap((v) => Array.from(v.dataSync()));

  /** The definition: one tape over the three unsplit terms, masks sampled inside it. */
  function tapeGradient(trainer: SubnetTrainer): Map<string, Float32Array> {
    const s = trainer.settings;
    const head = headOf(weights);
    const positions = (item: KgItem) => klRowIndices(item, s.klPosition, s.scoreAllTailTokens);
    const kg = (items: KgItem[]) => kgBatch(items, config.eosTokenId, positions);
    const lm = { batch: padBatch(lmBlocks(data.controlLmTokens!, block), 0), rows: 'all' as const };
    const terms = [
      { ...kg(data.target), weight: s.lambdas.suppress, reference: uniformReference(head, s.vocabChunk) },
      { ...kg(data.controlKg), weight: s.lambdas.controlKg, reference: referenceFromHidden(head, hiddenRows(weights, kg(data.controlKg).batch, kg(data.controlKg).rows), s.vocabChunk) },
      { ...lm, weight: s.lambdas.controlLm, reference: referenceFromHidden(head, hiddenRows(weights, lm.batch, lm.rows), s.vocabChunk) },
    ];
    const key = (pass: number) => (s.noise === 'per-step' ? noiseKey(s.seed, 0) : noiseKey(s.seed, 0, pass));
    const names = [...trainer.state.logits.keys()];
    const { value, grads } = tf.variableGrads(() => tf.addN(terms.map((t, i) => {
      const masks = masksForForward(trainer.state, { mode: 'train', view: 'remaining', noiseKey: key(i) });
      return tf.mul(klLoss(head, hiddenRows(weights, t.batch, t.rows, masks), t.reference, s.vocabChunk), t.weight);
    })) as tf.Scalar, names.map((n) => trainer.state.logits.get(n)!));
    const out = new Map(names.map((n) => [n, grads[trainer.state.logits.get(n)!.name].dataSync() as Float32Array]));
    tf.dispose([value, ...Object.values(grads)]);
    for (const t of terms) disposeReference(t.reference);
    return out;
  }

  async function unitGradient(trainer: SubnetTrainer): Promise<Map<string, Float32Array>> {
    const { grads } = await trainer.klGradient();
    const out = new Map([...grads].map(([n, g]) => [n, g.dataSync() as Float32Array]));
    for (const g of grads.values()) g.dispose();
    return out;
  }

  const variants: Array<[string, SubnetOptions]> = [
    ['per-forward noise, whole vocabulary', {}],
    ['per-step noise, vocabulary chunks of 16', { noise: 'per-step', vocabChunk: 16 }],
    ['masked layers [0, 2] around an unmasked one', { layers: [0, 2], vocabChunk: 24 }],
  ];
  for (const [label, options] of variants) {
    it(`the accumulated gradient is the tape's gradient of the unsplit loss: ${label}`, async () => {
      for (const unit of [{}, tiny]) {
        const trainer = new SubnetTrainer(weights, data, { ...base, ...options, ...unit });
        const expected = tapeGradient(trainer);
        const before = tensorCount();
        const actual = await unitGradient(trainer);
        expect(tensorCount()).toBe(before);
        for (const [name, g] of expected) expect(maxRelativeError(actual.get(name)!, g), `${name}, unitMacs ${trainer.settings.unitMacs}`).toBeLessThan(2e-6);
        trainer.dispose(false);
      }
    });
  }

  it('split and unsplit steps train the same logits', async () => {
    const run = async (unit: SubnetOptions) => {
      const trainer = new SubnetTrainer(weights, data, { ...base, vocabChunk: 16, ...unit });
      const losses = [];
      for (let i = 0; i < 3; i++) losses.push((await trainer.step()).losses);
      const logits = logitsOf(trainer);
      trainer.dispose(false);
      return { logits, losses };
    };
    const whole = await run({});
    const split = await run(tiny);
    expect(maxRelativeError(split.logits, whole.logits)).toBeLessThan(2e-5);
    split.losses.forEach((l, i) => {
      for (const k of ['suppress', 'controlKg', 'controlLm', 'density', 'total'] as const) expect(l[k]!).toBeCloseTo(whole.losses[i][k]!, 5);
    });
  });

  it('a cancel at any unit boundary frees every tensor and changes nothing: the next step is the uninterrupted one', async () => {
    // Each sequence its own micro-batch, 6 head rows and a half vocabulary per unit; two of each kind of sequence
    const options = { ...base, vocabChunk: 32, unitMacs: 9216 };
    const small = { target: data.target.slice(0, 2), controlKg: data.controlKg.slice(0, 2), controlLmTokens: data.controlLmTokens!.slice(0, 2 * block) };
    const straight = new SubnetTrainer(weights, small, options);
    await straight.step();
    await straight.step();
    const expected = logitsOf(straight);
    const expectedMoments = await straight.exportMoments();
    straight.dispose(false);

    const trainer = new SubnetTrainer(weights, small, options);
    await trainer.step();
    const after1 = logitsOf(trainer);
    const moments1 = await trainer.exportMoments();
    let boundaries = 0;
    for (let k = 1; ; k++) {
      const before = tensorCount();
      try {
        await trainer.step(abortAtCheck(k).signal);
        boundaries = k - 1;
        break;
      } catch (err) {
        expect(err).toBeInstanceOf(CancelledError);
      }
      expect(tensorCount(), `tensors left after a cancel at check ${k}`).toBe(before);
      expect(trainer.stepsDone).toBe(1);
      expect(logitsOf(trainer)).toEqual(after1);
      expect(await trainer.exportMoments()).toEqual(moments1);
    }
    // 3 terms × (mask sample + micro-batches × (layers forward and back + head chunks)) + the commit
    expect(boundaries).toBeGreaterThan(100);
    expect(trainer.stepsDone).toBe(2);
    expect(logitsOf(trainer)).toEqual(expected);
    expect(await trainer.exportMoments()).toEqual(expectedMoments);
    trainer.dispose(false);
  });

  it('a pause holds inside a step, at a unit boundary, and the resumed step is the uninterrupted one', async () => {
    const straight = new SubnetTrainer(weights, data, { ...base, ...tiny });
    await straight.step();
    const expected = logitsOf(straight);
    straight.dispose(false);

    const trainer = new SubnetTrainer(weights, data, { ...base, ...tiny });
    let holds = 0;
    let stepsWhenHeld = -1;
    const hold = async () => {
      if (++holds !== 5) return;
      stepsWhenHeld = trainer.stepsDone;
      await new Promise((resolve) => setTimeout(resolve, 20));
    };
    await trainer.step(undefined, hold);
    expect(stepsWhenHeld).toBe(0); // held mid-step: nothing committed yet
    expect(holds).toBeGreaterThan(5);
    expect(trainer.stepsDone).toBe(1);
    expect(logitsOf(trainer)).toEqual(expected);
    trainer.dispose(false);
  });

  it('evaluation in forward passes of a unit keeps the metric (PPL per batch of items)', async () => {
    const items = [...data.target, ...data.controlKg];
    const whole = await kgScores(weights, items, { batchSize: 4 });
    const split = await kgScores(weights, items, { batchSize: 4, maxTokens: 1 });
    for (const k of ['n', 'ppl', 'meanCe', 'meanProb', 'top1'] as const) expect(Math.abs(split[k] - whole[k])).toBeLessThanOrEqual(1e-6 * Math.abs(whole[k]));
  });

  it('sizes units from the model: whole batches on the default model, about a 128-token block on GPT-2 small', () => {
    const { unitMacs } = resolveSettings();
    // 4 layers, d = 128, d_ff = 512: a step's three terms (≤ 1,000 tokens each) stay unsplit
    expect(unitTokens({ nLayer: 4, nEmbd: 128, nInner: 512 }, unitMacs)).toEqual({ training: 3390, evaluation: 2543 });
    expect(unitTokens(gpt2SmallConfig(), unitMacs)).toEqual({ training: 94, evaluation: 23 });
    expect(() => resolveSettings({ unitMacs: 0 })).toThrow(/unitMacs/);
  });
});
