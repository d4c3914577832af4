import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeRng, normal } from '../src/core/random';
import { klRowIndices, labelledIndices } from '../src/core/subnetwork/data';
import {
  chunkedKl, chunkedLogSumExp, chunkedReference, disposeReference, klFromLogits, klLoss, klUniformFromLogits, logitsOf, referenceFromHidden, uniformChunkedReference, uniformReference, type VocabHead,
} from '../src/core/subnetwork/losses';
import { maxRelativeError, tensorCount, useWasm } from './helpers/tf';

beforeAll(useWasm);

const ROWS = 3;
const D = 5;
const V = 37; // not a multiple of the chunk sizes below

function randomMatrix(rng: () => number, rows: number, cols: number, scale: number): Float64Array {
  return Float64Array.from({ length: rows * cols }, () => scale * normal(rng));
}

/** float64 reference: logits h·Eᵀ, then batchmean KL(p‖q) with p = softmax(h_ref·Eᵀ) or uniform. */
function klF64(h: Float64Array, hRef: Float64Array | null, E: Float64Array): number {
  let total = 0;
  for (let r = 0; r < ROWS; r++) {
    const z = new Float64Array(V);
    const zr = new Float64Array(V);
    for (let v = 0; v < V; v++) {
      for (let k = 0; k < D; k++) {
        z[v] += h[r * D + k] * E[v * D + k];
        if (hRef) zr[v] += hRef[r * D + k] * E[v * D + k];
      }
    }
    const lse = (x: Float64Array) => {
      const m = Math.max(...x);
      return m + Math.log(x.reduce((a, b) => a + Math.exp(b - m), 0));
    };
    const lz = lse(z);
    const lr = lse(zr);
    for (let v = 0; v < V; v++) {
      const logp = hRef ? zr[v] - lr : -Math.log(V);
      total += Math.exp(logp) * (logp - (z[v] - lz));
    }
  }
  return total / ROWS;
}

function gradF64(h: Float64Array, hRef: Float64Array | null, E: Float64Array, delta = 1e-6): Float64Array {
  const g = new Float64Array(h.length);
  for (let i = 0; i < h.length; i++) {
    const plus = Float64Array.from(h);
    const minus = Float64Array.from(h);
    plus[i] += delta;
    minus[i] -= delta;
    g[i] = (klF64(plus, hRef, E) - klF64(minus, hRef, E)) / (2 * delta);
  }
  return g;
}

describe('KL terms', () => {
  const rng = makeRng(99);
  // float32-representable inputs, so tfjs and the float64 reference see the same numbers
  const f32 = (x: Float64Array) => Float64Array.from(Float32Array.from(x));
  const E = f32(randomMatrix(rng, V, D, 1));
  const h = f32(randomMatrix(rng, ROWS, D, 1));
  const hRef = f32(randomMatrix(rng, ROWS, D, 1));

  const heads = (): Array<[string, VocabHead]> => {
    const wte = tf.tensor2d(Float32Array.from(E), [V, D]);
    return [
      ['tied unembedding', { wte, unembedding: tf.transpose(wte) as tf.Tensor2D, vocabSize: V }],
      ['wte only', { wte, vocabSize: V }],
    ];
  };

  it('whole-vocabulary and chunked values match the float64 reference', () => {
    const expectedU = klF64(h, null, E);
    const expectedP = klF64(h, hRef, E);
    for (const [, head] of heads()) {
      const hidden = tf.tensor2d(Float32Array.from(h), [ROWS, D]);
      const hiddenRef = tf.tensor2d(Float32Array.from(hRef), [ROWS, D]);
      const logits = logitsOf(head, hidden);
      const refLogProbs = tf.logSoftmax(logitsOf(head, hiddenRef)) as tf.Tensor2D;
      expect(klUniformFromLogits(logits).dataSync()[0]).toBeCloseTo(expectedU, 5);
      expect(klFromLogits(refLogProbs, logits).dataSync()[0]).toBeCloseTo(expectedP, 5);
      for (const chunk of [1, 8, 36, 64]) {
        const lse = chunkedLogSumExp(head, hidden, chunk);
        expect(maxRelativeError(lse.dataSync(), tf.logSumExp(logits, 1).dataSync())).toBeLessThan(1e-6);
        const uRef = uniformChunkedReference(head);
        const pRef = chunkedReference(head, hiddenRef, chunk);
        expect(chunkedKl(head, hidden, uRef, chunk).dataSync()[0]).toBeCloseTo(expectedU, 5);
        expect(chunkedKl(head, hidden, pRef, chunk).dataSync()[0]).toBeCloseTo(expectedP, 5);
        tf.dispose([lse, uRef.negEntropy, uRef.expected, pRef.negEntropy, pRef.expected]);
      }
      tf.dispose([hidden, hiddenRef, logits, refLogProbs, head.unembedding!]);
    }
  });

  it('gradients w.r.t. the hidden rows: chunked = autodiff = (q − p)·E/rows = finite differences', () => {
    for (const ref of [null, hRef]) {
      const fd = gradF64(h, ref, E);
      // analytic float64: (q − p)·E / rows
      for (const [label, head] of heads()) {
        const hidden = tf.tensor2d(Float32Array.from(h), [ROWS, D]);
        const hiddenRef = tf.tensor2d(Float32Array.from(ref ?? h), [ROWS, D]);
        const whole = ref ? referenceFromHidden(head, hiddenRef, 0) : uniformReference(head, 0);
        const gWhole = tf.grad((x: tf.Tensor) => klLoss(head, x as tf.Tensor2D, whole, 0))(hidden);
        expect(maxRelativeError(gWhole.dataSync(), fd), `${label} whole`).toBeLessThan(1e-4);
        for (const chunk of [8, 36]) {
          const chunked = ref ? referenceFromHidden(head, hiddenRef, chunk) : uniformReference(head, chunk);
          expect(chunked.kind === 'logProbs').toBe(false);
          const gChunk = tf.grad((x: tf.Tensor) => klLoss(head, x as tf.Tensor2D, chunked, chunk))(hidden);
          expect(maxRelativeError(gChunk.dataSync(), fd), `${label} chunk ${chunk}`).toBeLessThan(1e-4);
          expect(maxRelativeError(gChunk.dataSync(), gWhole.dataSync())).toBeLessThan(1e-5);
          disposeReference(chunked);
          gChunk.dispose();
        }
        disposeReference(whole);
        tf.dispose([hidden, hiddenRef, gWhole, head.unembedding!]);
      }
    }
  });

  it('chunked KL leaves no tensors behind (forward and backward)', () => {
    const [, head] = heads()[1];
    const hv = tf.variable(tf.tensor2d(Float32Array.from(h), [ROWS, D]));
    const hiddenRef = tf.tensor2d(Float32Array.from(hRef), [ROWS, D]);
    const ref = referenceFromHidden(head, hiddenRef, 8);
    const before = tensorCount();
    for (let i = 0; i < 2; i++) {
      const { value, grads } = tf.variableGrads(() => klLoss(head, tf.mul(hv, 1) as tf.Tensor2D, ref, 8), [hv]);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tensorCount()).toBe(before);
    disposeReference(ref);
    tf.dispose([hv, hiddenRef, head.wte]);
  });
});

describe('KL positions', () => {
  const item = { promptIds: [10, 11, 12], targetIds: [20, 21] };
  it("labels the last target token; 'predicting' reads the row before it, 'label' the row itself", () => {
    expect(labelledIndices(item)).toEqual([4]);
    expect(labelledIndices(item, true)).toEqual([3, 4]);
    expect(klRowIndices(item, 'predicting')).toEqual([3]);
    expect(klRowIndices(item, 'label')).toEqual([4]);
    expect(klRowIndices(item, 'predicting', true)).toEqual([2, 3]);
  });
});
