/**
 * gelu_new op (src/core/model/kernels/gelu.ts) on wasm, the path users get without WebGPU:
 * value and gradient against a float64 formula and against finite differences, large |x|,
 * gradient chains, leaks. The fused WebGPU kernels are compared with this path in
 * gelu-kernel-webgpu.test.ts (its own file, so vitest runs it in its own process).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { GELU_NEW_GRAD_KERNEL, GELU_NEW_KERNEL, geluNew, geluNewComposite, hasFusedGeluNew } from '../src/core/model/kernels/gelu';
import { makeRng, normal } from '../src/core/random';
import { tensorCount, useWasm } from './helpers/tf';

beforeAll(useWasm);

const C = Math.sqrt(2 / Math.PI);
const K = 0.044715;
const gelu64 = (x: number) => 0.5 * x * (1 + Math.tanh(C * (x + K * x * x * x)));
const dgelu64 = (x: number) => {
  const t = Math.tanh(C * (x + K * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * C * (1 + 3 * K * x * x);
};

/** The gelu_new chain gpt2.ts used before the op existed, differentiated by tfjs autodiff. */
const oldChain = (x: tf.Tensor) => {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x))));
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
};

/** Float32 inputs: a dense grid over [-8, 8] (where activations live), then Gaussian samples of scale 3. */
function inputs(): Float32Array {
  const rng = makeRng(5);
  const grid = Array.from({ length: 4001 }, (_, i) => -8 + (16 * i) / 4000);
  const random = Array.from({ length: 4000 }, () => 3 * normal(rng));
  return Float32Array.from([...grid, ...random, 0, -0, 1e-30, -1e-30]);
}

const maxAbs = (a: ArrayLike<number>, f: (i: number) => number) => {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - f(i)));
  return worst;
};

describe('geluNew on wasm (tf-op path with the hand-written gradient)', () => {
  it('runs the tf-op path, not the fused kernels', async () => {
    expect(tf.getBackend()).toBe('wasm');
    expect(hasFusedGeluNew()).toBe(false);
    const info = await tf.profile(() => tf.tidy(() => tf.grad((x: tf.Tensor) => geluNew(x))(tf.ones([3]))));
    expect(info.kernelNames).toContain('Tanh');
    expect(info.kernelNames).not.toContain(GELU_NEW_KERNEL);
    expect(info.kernelNames).not.toContain(GELU_NEW_GRAD_KERNEL);
  });

  it('value and gradient match the float64 formula within 1e-6 (absolute)', () => {
    const xs = inputs();
    const [y, g] = tf.tidy(() => {
      const x = tf.tensor1d(xs);
      return [geluNew(x).dataSync(), tf.grad((z: tf.Tensor) => geluNew(z))(x).dataSync()];
    });
    expect(maxAbs(y, (i) => gelu64(xs[i]))).toBeLessThanOrEqual(1e-6);
    expect(maxAbs(g, (i) => dgelu64(xs[i]))).toBeLessThanOrEqual(1e-6);
  });

  it('the gradient formula is the derivative of the function (float64 finite differences)', () => {
    const h = 1e-5;
    for (let x = -10; x <= 10; x += 0.0137) {
      const fd = (gelu64(x + h) - gelu64(x - h)) / (2 * h);
      expect(Math.abs(fd - dgelu64(x))).toBeLessThan(1e-8);
    }
  });

  it('the op gradient matches float32 finite differences of the op', () => {
    const xs = inputs().slice(0, 8001);
    const h = 1e-2;
    const [plus, minus, g] = tf.tidy(() => {
      const x = tf.tensor1d(xs);
      return [geluNew(tf.add(x, h)).dataSync(), geluNew(tf.sub(x, h)).dataSync(), tf.grad((z: tf.Tensor) => geluNew(z))(x).dataSync()];
    });
    // Central differences in float32: truncation ~h²·|f'''|/6 plus rounding ~ulp(y)/h.
    expect(maxAbs(g, (i) => (plus[i] - minus[i]) / (2 * h))).toBeLessThan(5e-4);
  });

  it('the forward is exactly the chain gpt2.ts used before; the gradient agrees with its autodiff', () => {
    const xs = inputs();
    const [y, yOld, g, gOld] = tf.tidy(() => {
      const x = tf.tensor1d(xs);
      const dy = tf.randomNormal([xs.length], 0, 1, 'float32', 3);
      return [
        geluNew(x).dataSync(),
        oldChain(x).dataSync(),
        tf.grad((z: tf.Tensor) => geluNew(z))(x, dy).dataSync(),
        tf.grad((z: tf.Tensor) => oldChain(z))(x, dy).dataSync(),
      ];
    });
    expect(Array.from(y)).toEqual(Array.from(yOld));
    expect(maxAbs(g, (i) => gOld[i])).toBeLessThan(2e-6);
  });

  it('large |x| gives finite values: y → x and gradient → 1 for x ≫ 0, both → 0 for x ≪ 0', () => {
    const xs = [-1e6, -1e4, -1000, -100, -50, -20, 20, 50, 100, 1000, 1e4, 1e6];
    const [y, g] = tf.tidy(() => {
      const x = tf.tensor1d(xs);
      return [geluNew(x).dataSync(), tf.grad((z: tf.Tensor) => geluNew(z))(x).dataSync()];
    });
    xs.forEach((x, i) => {
      expect(Number.isFinite(y[i]) && Number.isFinite(g[i])).toBe(true);
      expect(y[i]).toBeCloseTo(x > 0 ? x : 0, 6);
      expect(g[i]).toBeCloseTo(x > 0 ? 1 : 0, 6);
    });
  });

  it('works inside gradient chains (valueAndGrads, composed ops, any rank) and leaks nothing', () => {
    const rng = makeRng(9);
    const a = tf.tensor3d(Array.from({ length: 2 * 3 * 8 }, () => normal(rng)), [2, 3, 8]);
    const w = tf.tensor2d(Array.from({ length: 8 * 5 }, () => 0.5 * normal(rng)), [8, 5]);
    const f = (x: tf.Tensor, m: tf.Tensor, op: (t: tf.Tensor) => tf.Tensor) =>
      tf.sum(tf.square(op(tf.matMul(tf.reshape(op(x), [6, 8]), m)))) as tf.Scalar;
    const run = (op: (t: tf.Tensor) => tf.Tensor) => tf.tidy(() => {
      const { value, grads } = tf.valueAndGrads((x: tf.Tensor, m: tf.Tensor) => f(x, m, op))([a, w]);
      return [value.dataSync()[0], grads[0].dataSync(), grads[1].dataSync()] as const;
    });
    run(geluNew); // warm-up: the first call may allocate cached constants
    const before = tensorCount();
    const [v, ga, gw] = run(geluNew);
    const [vRef, gaRef, gwRef] = run(oldChain);
    expect(tensorCount()).toBe(before);
    expect(v).toBeCloseTo(vRef, 5);
    expect(maxAbs(ga, (i) => gaRef[i])).toBeLessThan(1e-5);
    expect(maxAbs(gw, (i) => gwRef[i])).toBeLessThan(1e-5);
    // The forward alone, outside any tape, saves nothing.
    const y = geluNew(a);
    expect(tensorCount()).toBe(before + 1);
    y.dispose();
    a.dispose();
    w.dispose();
  });

  it('geluNewComposite is the same op (it is what geluNew runs here)', () => {
    const [y1, y2] = tf.tidy(() => {
      const x = tf.tensor1d(inputs());
      return [geluNew(x).dataSync(), geluNewComposite(x).dataSync()];
    });
    expect(Array.from(y1)).toEqual(Array.from(y2));
  });

  it('rejects non-float tensors with a clear message', () => {
    const x = tf.tensor1d([1, 2], 'int32');
    expect(() => geluNew(x)).toThrow(/float32/);
    x.dispose();
  });
});
