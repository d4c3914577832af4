import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useWasm } from './helpers/tf';

const dataId = (t: tf.Tensor) => (t as unknown as { dataId: object }).dataId;

describe('wasm Identity shares data (src/core/model/kernels/identity-wasm.ts)', () => {
  beforeAll(useWasm);

  it('tf.clone keeps the data id, and each copy outlives the other', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const before = tf.memory().numDataBuffers;
    const a = tf.tensor2d([[1, 2], [3, 4]]);
    const b = tf.clone(a);
    expect(dataId(b)).toBe(dataId(a));
    expect(tf.memory().numDataBuffers - before).toBe(1);
    a.dispose();
    expect(Array.from(await b.data())).toEqual([1, 2, 3, 4]);
    b.dispose();
    expect(tf.memory().numDataBuffers).toBe(before);
  });

  it('the gradient tape saves weights without copying them', () => {
    const w = tf.randomNormal([64, 64]);
    const x = tf.randomNormal([4, 64]);
    const before = tf.memory().numDataBuffers;
    let buffers = 0;
    const g = tf.grad((input: tf.Tensor) => {
      const y = tf.matMul(input, w).sum();
      buffers = tf.memory().numDataBuffers - before;
      return y;
    })(x);
    // The product and the sum; copying the saved inputs (as tfjs-wasm's own Identity does) adds two.
    expect(buffers).toBe(2);
    g.dispose();
    w.dispose();
    x.dispose();
  });
});
