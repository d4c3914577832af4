import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { amigBaselines } from '../src/core/knowledge/amig';
import { attribute } from '../src/core/knowledge/attribution';
import { riemannGrid } from '../src/core/knowledge/riemann';
import { forward } from '../src/core/model/gpt2';
import { captureHooks, hookName } from '../src/core/model/hooks';
import { disposeWeights, type Gpt2Weights } from '../src/core/model/weights';
import { smallConfig } from '../scripts/lib/random-checkpoint';
import { maxRelativeError, randomFixture, tensorCount, useWasm } from './helpers/tf';

beforeAll(useWasm);

const config = smallConfig({ nLayer: 3, nHead: 2, nEmbd: 32, nInner: 64 });
const prompt = [5, 88, 17, 260, 3, 41];

describe('integrated gradients', () => {
  it('fast path equals the full-sequence path (single and multi-token targets, both sites, all rules)', async () => {
    const fixture = randomFixture({ config, seed: 21, std: 0.4 });
    for (const [target, site, rule] of [[[77], 'post', 'left'], [[77, 12, 199], 'pre', 'right'], [[3, 9], 'post', 'trapezoid'], [[41], 'pre', 'gauss']] as const) {
      const fast = await attribute(fixture.weights, prompt, [...target], { steps: 7, site, rule, path: 'fast' });
      const full = await attribute(fixture.weights, prompt, [...target], { steps: 7, site, rule, path: 'full' });
      for (let l = 0; l < config.nLayer; l++) {
        expect(maxRelativeError(fast.layers[l].scores, full.layers[l].scores)).toBeLessThan(1e-4);
        expect(fast.layers[l].delta).toBeCloseTo(full.layers[l].delta, 6);
      }
      expect(fast.pFull).toBeCloseTo(full.pFull, 7);
    }
    disposeWeights(fixture.weights);
  });

  it('completeness error shrinks toward 0 as m grows (right and trapezoid)', async () => {
    const fixture = randomFixture({ config, seed: 22, std: 0.4 });
    const errors = [];
    for (const steps of [4, 16, 64]) {
      const result = await attribute(fixture.weights, prompt, [77], { steps, rule: 'trapezoid' });
      errors.push(Math.max(...result.layers.map((l) => (l.absolute ? 0 : l.relError))));
    }
    expect(errors[1]).toBeLessThan(errors[0]);
    expect(errors[2]).toBeLessThan(errors[1]);
    expect(errors[2]).toBeLessThan(5e-3);
    disposeWeights(fixture.weights);
  });

  it('the grids are the documented ones', () => {
    expect(riemannGrid('right', 4).alphas).toEqual([0.25, 0.5, 0.75, 1]);
    expect(riemannGrid('left', 4).alphas).toEqual([0, 0.25, 0.5, 0.75]);
    expect(riemannGrid('eleuther', 3).alphas).toEqual([0, 0.5, 1]);
    const trap = riemannGrid('trapezoid', 2);
    expect(trap.alphas).toEqual([0, 0.5, 1]);
    expect(trap.weights).toEqual([0.25, 0.5, 0.25]);
    // Gauss–Legendre: m nodes inside (0, 1), ascending, exact for polynomials up to degree 2m − 1
    for (const m of [1, 2, 5, 20]) {
      const gauss = riemannGrid('gauss', m);
      expect(gauss.alphas).toEqual([...gauss.alphas].sort((a, b) => a - b));
      expect(gauss.alphas.every((a) => a > 0 && a < 1)).toBe(true);
      for (const degree of [0, m, 2 * m - 1]) {
        const integral = gauss.alphas.reduce((s, a, i) => s + gauss.weights[i] * a ** degree, 0);
        expect(integral).toBeCloseTo(1 / (degree + 1), 12);
      }
    }
    expect(riemannGrid('gauss', 2).alphas[0]).toBeCloseTo(0.5 - 0.5 / Math.sqrt(3), 14);
    expect(() => riemannGrid('right', 0)).toThrow(/steps must be an integer/);
    expect(() => riemannGrid('right', 1e6)).toThrow(/steps must be an integer/);
  });

  it('AMIG: the path starts at the mean EOS-substituted activation, the multiplier is a, delta is P(a) − P(b̄)', async () => {
    const fixture = randomFixture({ config, seed: 24, std: 0.4 });
    const gold = 77;
    const position = prompt.length - 1;
    // The pre-GELU site: post-GELU activations can be ~0, and the check below divides by them.
    const zero = await attribute(fixture.weights, prompt, [gold], { steps: 64, rule: 'trapezoid', site: 'pre' }); // also fills the transposed-weight cache
    const before = tensorCount();
    const amig = await attribute(fixture.weights, prompt, [gold], { steps: 64, rule: 'trapezoid', site: 'pre', baseline: 'amig' });
    expect(tensorCount()).toBe(before);
    expect(amig.settings.baseline).toBe('amig');
    for (const layer of amig.layers) {
      const name = hookName.mlpPre(layer.layer);
      // b̄ one substituted prompt at a time (the code's loop), and P(gold) with the activation set to it
      const substituted = prompt.map((_, p) => prompt.map((t, q) => (q === p ? config.eosTokenId : t)));
      const rows = substituted.map((ids) => activationAt(fixture.weights, ids, name, position));
      const baseline = rows[0].map((_, i) => rows.reduce((s, r) => s + r[i], 0) / rows.length);
      const pBaseline = probWithActivation(fixture.weights, prompt, name, position, baseline, gold);
      expect(layer.delta).toBeCloseTo(amig.pFull - pBaseline, 6);
      // IG from b̄ with the multiplier a − b̄ is complete, so rescaling the scores (multiplier a) must give back delta
      let rescaled = 0;
      layer.scores.forEach((score, i) => {
        rescaled += (score * (layer.activation[i] - baseline[i])) / layer.activation[i];
      });
      expect(Math.abs(rescaled - layer.delta)).toBeLessThan(5e-3 * Math.max(Math.abs(layer.delta), 1e-3));
      expect(maxRelativeError(layer.scores, zero.layers[layer.layer].scores)).toBeGreaterThan(1e-2);
    }
    // b̄ in batches of one substituted prompt equals b̄ in one batch (long prompts run in batches)
    const names = { hookNames: [hookName.mlpPre(0), hookName.mlpPost(2)], lastLayer: 2 };
    const together = await amigBaselines(fixture.weights, prompt, position, names, config.eosTokenId);
    const oneByOne = await amigBaselines(fixture.weights, prompt, position, names, config.eosTokenId, 1);
    for (const name of names.hookNames) expect(maxRelativeError(oneByOne.get(name)!, together.get(name)!)).toBeLessThan(1e-5);
    expect(tensorCount()).toBe(before);
    // the fast and the full-sequence paths agree under AMIG too
    const fast = await attribute(fixture.weights, prompt, [gold, 12], { steps: 5, rule: 'left', baseline: 'amig' });
    const full = await attribute(fixture.weights, prompt, [gold, 12], { steps: 5, rule: 'left', baseline: 'amig', path: 'full' });
    for (let l = 0; l < config.nLayer; l++) expect(maxRelativeError(fast.layers[l].scores, full.layers[l].scores)).toBeLessThan(1e-4);
    await expect(attribute(fixture.weights, prompt, [gold], { baseline: 'mean' as 'zero' })).rejects.toThrow(/baseline must be one of zero, amig/);
    expect((await attribute(fixture.weights, prompt, [gold], { steps: 2, baseline: undefined })).settings.baseline).toBe('zero');
    disposeWeights(fixture.weights);
  });

  it('leaks no tensors and can be cancelled', async () => {
    const fixture = randomFixture({ config, seed: 23 });
    await attribute(fixture.weights, prompt, [77], { steps: 3 });
    const before = tensorCount();
    await attribute(fixture.weights, prompt, [77, 5], { steps: 3 });
    expect(tensorCount()).toBe(before);
    const controller = new AbortController();
    controller.abort();
    await expect(attribute(fixture.weights, prompt, [77], { steps: 3 }, { signal: controller.signal })).rejects.toThrow(/cancelled/);
    expect(tensorCount()).toBe(before);
    disposeWeights(fixture.weights);
    tf.disposeVariables();
  });
});

function activationAt(weights: Gpt2Weights, ids: number[], name: string, position: number): number[] {
  const store = new Map<string, tf.Tensor>();
  tf.tidy(() => {
    forward(weights, tf.tensor2d([ids], [1, ids.length], 'int32'), { hooks: captureHooks([name], store) });
  });
  const row = Array.from(store.get(name)!.arraySync() as number[][][])[0][position];
  store.forEach((t) => t.dispose());
  return row;
}

function probWithActivation(weights: Gpt2Weights, ids: number[], name: string, position: number, activation: number[], gold: number): number {
  return tf.tidy(() => {
    const logits = forward(weights, tf.tensor2d([ids], [1, ids.length], 'int32'), {
      hooks: { [name]: (act) => tf.concat([act.slice([0, 0, 0], [1, position, act.shape[2]!]), tf.tensor3d([[activation]])], 1) },
      logitPositions: [position],
    });
    return tf.softmax(logits).arraySync() as number[][];
  })[0][gold];
}
