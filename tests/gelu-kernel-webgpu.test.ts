/**
 * The fused gelu_new kernels on WebGPU (Dawn + SwiftShader in Node) against the wasm path:
 * the op itself, a whole GPT-2 forward and an integrated-gradients attribution.
 *
 * No skipping: without a WebGPU adapter the setup throws and every test here fails with
 * what to install (CI has chromium + libvulkan1). Its own file, so vitest gives it its own
 * process. Models are tiny: SwiftShader emulates the GPU on the CPU.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { attribute, type AttributionSettings } from '../src/core/knowledge/attribution';
import { forward } from '../src/core/model/gpt2';
import { GELU_NEW_GRAD_KERNEL, GELU_NEW_KERNEL, geluNew, hasFusedGeluNew } from '../src/core/model/kernels/gelu';
import { disposeWeights } from '../src/core/model/weights';
import { makeRng, normal } from '../src/core/random';
import { smallConfig } from '../scripts/lib/random-checkpoint';
import { maxRelativeError, randomFixture, tensorCount, useWasm } from './helpers/tf';
import { useWebGpu, type WebGpuInfo } from '../src/cli/node-webgpu';

type Backend = 'wasm' | 'webgpu';
let gpu: WebGpuInfo;

beforeAll(async () => {
  await useWasm();
  gpu = await useWebGpu();
});

async function on<T>(backend: Backend, fn: () => Promise<T> | T): Promise<T> {
  if (!(await tf.setBackend(backend))) throw new Error(`cannot switch to ${backend}`);
  return fn();
}

function randomArray(size: number, seed: number, scale: number): Float32Array {
  const rng = makeRng(seed);
  return Float32Array.from({ length: size }, () => scale * normal(rng));
}

/** Value and gradient (for a random upstream dy) of geluNew on the current backend. */
async function valueAndGrad(shape: number[], seed: number): Promise<[Float32Array, Float32Array]> {
  const size = shape.reduce((a, b) => a * b, 1);
  const [y, g] = tf.tidy(() => {
    const x = tf.tensor(randomArray(size, seed, 3), shape);
    const dy = tf.tensor(randomArray(size, seed + 1, 1), shape);
    return [geluNew(x), tf.grad((z: tf.Tensor) => geluNew(z))(x, dy)];
  });
  const out = (await Promise.all([y.data(), g.data()])) as [Float32Array, Float32Array];
  y.dispose();
  g.dispose();
  return out;
}

describe('fused gelu_new on WebGPU', () => {
  it('has a WebGPU adapter and runs one fused kernel each way', async () => {
    expect(gpu.adapter).toBeTruthy();
    await on('webgpu', async () => {
      expect(hasFusedGeluNew()).toBe(true);
      const info = await tf.profile(() => tf.tidy(() => tf.grad((x: tf.Tensor) => geluNew(x))(tf.fill([4, 8], 0.5))));
      const kernels = info.kernelNames.filter((k) => k !== 'Fill' && k !== 'Identity');
      expect(kernels).toEqual([GELU_NEW_KERNEL, GELU_NEW_GRAD_KERNEL]);
    });
  });

  it('forward and gradient equal the wasm path within 1e-5 relative', async () => {
    // [22,1,3072]: an attribution batch at GPT-2-small width; [3,5]: a size not divisible by 4 (scalar shader).
    const shapes = [[22, 1, 3072], [1, 7, 512], [3, 5], [2, 3, 4, 6], [64]];
    for (const [i, shape] of shapes.entries()) {
      const [yCpu, gCpu] = await on('wasm', () => valueAndGrad(shape, 100 + i));
      const [yGpu, gGpu] = await on('webgpu', () => valueAndGrad(shape, 100 + i));
      expect(maxRelativeError(yGpu, yCpu), `value ${shape}`).toBeLessThan(1e-5);
      expect(maxRelativeError(gGpu, gCpu), `gradient ${shape}`).toBeLessThan(1e-5);
    }
  });

  it('large |x| gives no NaN', async () => {
    await on('webgpu', async () => {
      const xs = [-1e6, -1e4, -1000, -100, -50, -20, -0, 0, 20, 50, 100, 1000, 1e4, 1e6];
      const x = tf.tensor1d(xs);
      const y = geluNew(x);
      const g = tf.grad((z: tf.Tensor) => geluNew(z))(x);
      const [yv, gv] = await Promise.all([y.data(), g.data()]);
      tf.dispose([x, y, g]);
      xs.forEach((v, i) => {
        expect(Number.isFinite(yv[i]) && Number.isFinite(gv[i]), `x = ${v}`).toBe(true);
        expect(yv[i]).toBeCloseTo(v > 0 ? v : 0, 6);
        expect(gv[i]).toBeCloseTo(v > 0 ? 1 : v < 0 ? 0 : 0.5, 6);
      });
    });
  });

  it('leaks no tensors inside gradient chains', async () => {
    await on('webgpu', async () => {
      const x = tf.tensor2d(randomArray(6 * 8, 3, 2), [6, 8]);
      const w = tf.tensor2d(randomArray(8 * 8, 4, 0.5), [8, 8]);
      const step = async () => {
        const g = tf.tidy(() => tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(geluNew(tf.matMul(geluNew(a), b))))([x, w]));
        await Promise.all(g.map((t) => t.data()));
        tf.dispose(g);
      };
      await step();
      const before = tensorCount();
      await step();
      expect(tensorCount()).toBe(before);
      tf.dispose([x, w]);
    });
  });
});

describe('GPT-2 on WebGPU with the fused kernel equals wasm', () => {
  const config = smallConfig();
  const tokens = [[5, 88, 17, 260, 3, 41, 7], [9, 9, 120, 4, 250, 33, 1]];

  /**
   * Built on wasm even for the WebGPU run: randomFixture reads the weights back with dataSync,
   * which tfjs-backend-webgpu cannot do in Node (it needs OffscreenCanvas). The weights move
   * to WebGPU on first use, through wasm's readSync.
   */
  const fixtureFor = (seed: number, std: number) => randomFixture({ config, seed, std });

  async function logits(backend: Backend): Promise<{ values: Float32Array; kernels: string[] }> {
    const fixture = await on('wasm', () => fixtureFor(31, 0.3));
    return on(backend, async () => {
      const input = tf.tensor2d(tokens, [2, tokens[0].length], 'int32');
      let out: tf.Tensor | undefined;
      const info = await tf.profile(() => {
        out = forward(fixture.weights, input);
        return out;
      });
      const values = (await out!.data()) as Float32Array;
      tf.dispose([out!, input]);
      disposeWeights(fixture.weights);
      return { values, kernels: info.kernels.map((k) => k.name) }; // every launch (kernelNames is deduplicated)
    });
  }

  it('logits agree within 1e-4 relative, and the forward ran the fused kernel once per layer', async () => {
    const cpu = await logits('wasm');
    const gpuRun = await logits('webgpu');
    expect(maxRelativeError(gpuRun.values, cpu.values)).toBeLessThan(1e-4);
    expect(gpuRun.kernels.filter((k) => k === GELU_NEW_KERNEL)).toHaveLength(config.nLayer);
    expect(gpuRun.kernels).not.toContain('Tanh');
    expect(cpu.kernels).not.toContain(GELU_NEW_KERNEL);
  });

  it('integrated-gradients attribution agrees with wasm within 1e-3 relative per layer', async () => {
    const prompt = [5, 88, 17, 260];
    const cases: Array<{ target: number[]; settings: Partial<AttributionSettings> }> = [
      { target: [77, 12], settings: { steps: 5, site: 'pre', rule: 'right' } },
      { target: [3], settings: { steps: 4, site: 'post', rule: 'trapezoid' } },
    ];
    for (const { target, settings } of cases) {
      const run = async (backend: Backend) => {
        const fixture = await on('wasm', () => fixtureFor(32, 0.4));
        return on(backend, async () => {
          const result = await attribute(fixture.weights, prompt, target, settings);
          disposeWeights(fixture.weights);
          return { result };
        });
      };
      const cpu = await run('wasm');
      const gpuRun = await run('webgpu');
      expect(gpuRun.result.layers).toHaveLength(config.nLayer);
      for (const [l, layer] of gpuRun.result.layers.entries()) {
        const ref = cpu.result.layers[l];
        expect(maxRelativeError(layer.scores, ref.scores), `layer ${l} ${settings.site}`).toBeLessThan(1e-3);
        expect(Math.abs(layer.delta - ref.delta)).toBeLessThanOrEqual(1e-3 * Math.max(Math.abs(ref.delta), 1e-6));
      }
      expect(gpuRun.result.pFull).toBeCloseTo(cpu.result.pFull, 5);
    }
  });
});
