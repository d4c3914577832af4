import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { distancesFromVectors, INFINITE_DISTANCE, neuronDistances, neuronVectors, summarizeDistances } from '../src/core/degeneracy/distances';
import type { Neuron } from '../src/core/knowledge/refine';
import type { Gpt2Weights } from '../src/core/model/weights';
import { smallConfig } from '../scripts/lib/random-checkpoint';
import { tensorCount, useWasm } from './helpers/tf';

beforeAll(useWasm);

/**
 * Hand-built FFN weights (4 layers, d = f = 4): every c_fc is the identity, so the key of (l, j)
 * is e_j and the connection weight v_(l,i) · k_(l+1,j) is simply c_proj_l[i][j].
 */
const P: number[][][] = [
  [
    [0, 0.5, -0.25, 0], // (0,0) → (1,1): d 2, → (1,2): d 4, → (1,3): w 0 → ∞
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
  ],
  [
    [0, 0, 0, 0],
    [0.25, 0, 0.1, 0], // (1,1) → (2,0): d 4; same-layer hop (1,1) → (1,2) in the code rule: d 10
    [1, 0, 0, 0.5], // (1,2) → (2,0): d 1, → (2,3): d 2
    [0, 0, 0, 0],
  ],
  [
    [0.5, 0, 0, 0], // (2,0) → (3,0): d 2
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0.125, 0, 0, 0], // (2,3) → (3,0): d 8
  ],
  [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
  ],
];

function handWeights(): Gpt2Weights {
  const config = smallConfig({ nLayer: 4, nEmbd: 4, nInner: 4 });
  const params = new Map<string, tf.Tensor>();
  P.forEach((proj, l) => {
    params.set(`h.${l}.mlp.c_fc.weight`, tf.eye(4));
    params.set(`h.${l}.mlp.c_proj.weight`, tf.tensor2d(proj));
  });
  return { config, params };
}

const A: Neuron = [0, 0];
const C1: Neuron = [1, 1];
const C2: Neuron = [1, 2];
const D0: Neuron = [2, 0];
const D3: Neuron = [2, 3];
const B3: Neuron = [3, 0];

function at(result: { neurons: Neuron[]; matrix: Float32Array; n: number }, a: Neuron, b: Neuron): number {
  const i = result.neurons.findIndex((x) => x[0] === a[0] && x[1] === a[1]);
  const j = result.neurons.findIndex((x) => x[0] === b[0] && x[1] === b[1]);
  return result.matrix[i * result.n + j];
}

describe('neuron distances', () => {
  let weights: Gpt2Weights;
  beforeAll(() => {
    weights = handWeights();
  });

  it('reads value rows and key columns asynchronously without leaking tensors', async () => {
    const before = tensorCount();
    const { values, keys } = await neuronVectors(weights, [C2, A]);
    expect(Array.from(values[0])).toEqual([1, 0, 0, 0.5]);
    expect(Array.from(values[1])).toEqual([0, 0.5, -0.25, 0]);
    expect(Array.from(keys[0])).toEqual([0, 0, 1, 0]);
    expect(Array.from(keys[1])).toEqual([1, 0, 0, 0]);
    expect(tensorCount()).toBe(before);
  });

  it('adjacent layers: |1/(v_A·k_B)|, ∞ for w = 0, same layer ∞, symmetric with a zero diagonal', async () => {
    const r = await neuronDistances(weights, [A, C1, C2, [1, 3]]);
    expect(at(r, A, C1)).toBeCloseTo(2, 6);
    expect(at(r, C1, A)).toBeCloseTo(2, 6);
    expect(at(r, A, C2)).toBeCloseTo(4, 6); // w = −0.25
    expect(at(r, A, [1, 3])).toBe(INFINITE_DISTANCE);
    expect(at(r, C1, C2)).toBe(INFINITE_DISTANCE);
    for (let i = 0; i < r.n; i++) expect(r.matrix[i * r.n + i]).toBe(0);
  });

  it("span 2: project takes one intermediate neuron; the code's rule needs two middle-layer neurons", async () => {
    const project = await neuronDistances(weights, [A, D0, C1, C2], { pathRule: 'project' });
    expect(at(project, A, D0)).toBeCloseTo(5, 5); // min(2 + 4 via C1, 4 + 1 via C2)
    const code = await neuronDistances(weights, [A, D0, C1, C2], { pathRule: 'dkn-code' });
    expect(at(code, A, D0)).toBeCloseTo(13, 4); // A → C1 → C2 → D0: 2 + 10 + 1
    // a lone middle-layer neuron: project finds the path, the code's rule does not
    expect(at(await neuronDistances(weights, [A, D0, C1], { pathRule: 'project' }), A, D0)).toBeCloseTo(6, 5);
    expect(at(await neuronDistances(weights, [A, D0, C1], { pathRule: 'dkn-code' }), A, D0)).toBe(INFINITE_DISTANCE);
    // no located neuron in the middle layer: ∞ for both
    expect(at(await neuronDistances(weights, [A, D0], { pathRule: 'project' }), A, D0)).toBe(INFINITE_DISTANCE);
    // Same-layer path neurons keep list order (stable sort): C2 → C1 has w = 0, so no path.
    expect(at(await neuronDistances(weights, [A, D0, C2, C1], { pathRule: 'dkn-code' }), A, D0)).toBe(INFINITE_DISTANCE);
    // dkn.py takes maxSpan − 1 path neurons: with maxSpan 2 the one middle neuron is the path.
    expect(at(await neuronDistances(weights, [A, D0, C1], { pathRule: 'dkn-code', maxSpan: 2 }), A, D0)).toBeCloseTo(6, 5);
    expect(at(await neuronDistances(weights, [A, D0, C1, C2], { pathRule: 'dkn-code', maxSpan: 2 }), A, D0)).toBeCloseTo(5, 5);
  });

  it('span 3: shortest summed path through one neuron per intermediate layer; beyond maxSpan ∞', async () => {
    const list = [A, B3, C1, C2, D0, D3];
    const project = await neuronDistances(weights, list, { pathRule: 'project' });
    // C1→D0: 2+4+2 = 8; C1→D3: ∞; C2→D0: 4+1+2 = 7; C2→D3: 4+2+8 = 14
    expect(at(project, A, B3)).toBeCloseTo(7, 5);
    expect(at(await neuronDistances(weights, list, { pathRule: 'dkn-code' }), A, B3)).toBeCloseTo(7, 5);
    // dkn.py sorts each combination by layer, so listing D0 before C2 still forms C2 → D0.
    const reordered = await neuronDistances(weights, [A, B3, C1, D0, C2, D3], { pathRule: 'dkn-code' });
    expect(at(reordered, A, B3)).toBeCloseTo(7, 5);
    // maxSpan 4: three path neurons, first in layer 1, last in layer 2, hops whatever the layers:
    // A → C1 → C2 → D0 → B3 = 2 + 10 + 1 + 2 (D0 → D3 has w = 0); span 2 needs three middle neurons.
    const wide = await neuronDistances(weights, list, { pathRule: 'dkn-code', maxSpan: 4 });
    expect(at(wide, A, B3)).toBeCloseTo(15, 4);
    expect(at(wide, A, D0)).toBe(INFINITE_DISTANCE);
    expect(at(await neuronDistances(weights, list, { pathRule: 'project', maxSpan: 4 }), A, B3)).toBeCloseTo(7, 5);
    expect(at(await neuronDistances(weights, [A, B3, C1, D0, C2, D3], { pathRule: 'project' }), A, B3)).toBeCloseTo(7, 5);
    expect(at(await neuronDistances(weights, list, { maxSpan: 2 }), A, B3)).toBe(INFINITE_DISTANCE);
    expect(at(await neuronDistances(weights, list, { maxSpan: 2 }), A, D0)).toBeCloseTo(5, 5);
  });

  it('agrees with a brute-force path enumeration (project rule) on random vectors', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const neurons: Neuron[] = [[0, 0], [0, 1], [1, 0], [1, 1], [1, 2], [2, 0], [2, 1], [3, 0], [3, 1], [4, 0]];
    const vectors = { values: neurons.map(() => Float32Array.from({ length: 5 }, rand)), keys: neurons.map(() => Float32Array.from({ length: 5 }, rand)) };
    const r = distancesFromVectors(neurons, vectors, { maxSpan: 3 });
    const hop = (a: number, b: number) => Math.abs(1 / vectors.values[a].reduce((s, x, k) => s + x * vectors.keys[b][k], 0));
    const paths = (a: number, b: number): number[][] => {
      if (neurons[b][0] - neurons[a][0] === 1) return [[a, b]];
      return neurons.map((_, c) => c).filter((c) => neurons[c][0] === neurons[a][0] + 1).flatMap((c) => paths(c, b).map((p) => [a, ...p]));
    };
    for (let i = 0; i < neurons.length; i++) {
      for (let j = 0; j < neurons.length; j++) {
        const [a, b] = neurons[i][0] <= neurons[j][0] ? [i, j] : [j, i];
        const span = neurons[b][0] - neurons[a][0];
        if (i === j) expect(r.matrix[i * r.n + j]).toBe(0);
        else if (span === 0 || span > 3) expect(r.matrix[i * r.n + j]).toBe(INFINITE_DISTANCE);
        else {
          const best = Math.min(...paths(a, b).map((p) => p.slice(1).reduce((s, node, k) => s + hop(p[k], node), 0)));
          expect(r.matrix[i * r.n + j]).toBeCloseTo(Math.min(best, INFINITE_DISTANCE), 3);
        }
      }
    }
  });

  it('rejects duplicates and out-of-range neurons; summarizes finite pairs', async () => {
    await expect(neuronDistances(weights, [A, A])).rejects.toThrow(/twice/);
    await expect(neuronDistances(weights, [[4, 0]])).rejects.toThrow(/Layer 4 is out of range/);
    const r = await neuronDistances(weights, []);
    expect(r.matrix).toHaveLength(0);
    expect(summarizeDistances(r.matrix, 0)).toEqual({ n: 0, pairs: 0, finitePairs: 0, min: null, median: null, max: null });
    const s = summarizeDistances(Float32Array.from([0, 2, 1000, 2, 0, 4, 1000, 4, 0]), 3);
    expect(s).toEqual({ n: 3, pairs: 3, finitePairs: 2, min: 2, median: 3, max: 4 });
  });
});
