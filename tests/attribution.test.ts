import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { attribute } from '../src/core/knowledge/attribution';
import { riemannGrid } from '../src/core/knowledge/riemann';
import { disposeWeights } from '../src/core/model/weights';
import { smallConfig } from '../scripts/lib/random-checkpoint';
import { maxRelativeError, randomFixture, tensorCount, useWasm } from './helpers/tf';

beforeAll(useWasm);

const config = smallConfig({ nLayer: 3, nHead: 2, nEmbd: 32, nInner: 64 });
const prompt = [5, 88, 17, 260, 3, 41];

describe('integrated gradients', () => {
  it('fast path equals the full-sequence path (single and multi-token targets, both sites, all rules)', async () => {
    const fixture = randomFixture({ config, seed: 21, std: 0.4 });
    for (const [target, site, rule] of [[[77], 'post', 'left'], [[77, 12, 199], 'pre', 'right'], [[3, 9], 'post', 'trapezoid']] as const) {
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
    expect(() => riemannGrid('right', 0)).toThrow(/steps must be an integer/);
    expect(() => riemannGrid('right', 1e6)).toThrow(/steps must be an integer/);
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
