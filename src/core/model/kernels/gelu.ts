/**
 * gelu_new, GPT-2's tanh approximation of GELU, as one differentiable op:
 *
 *   y      = 0.5·x·(1 + t),  t = tanh(u),  u = √(2/π)·(x + 0.044715·x³)
 *   dy/dx  = 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)
 *
 * On the webgpu backend it runs as two custom kernels, `FactlabGeluNew` (forward) and
 * `FactlabGeluNewGrad` (dy · dy/dx), one WGSL dispatch each (gelu-webgpu.ts). Integrated
 * gradients runs hundreds of small forward+backward passes, which on WebGPU are bound by
 * the number of dispatches rather than by arithmetic, so fusing the 9-kernel forward and the
 * ~15-kernel backward (~45 under tfjs autodiff) into one dispatch each pays there
 * (bench/kernels: npm run bench:kernels).
 *
 * On every other backend (wasm, webgl, cpu) the same expression is built from tf ops in the
 * same order, with the same hand-written gradient (tf.customGrad), so both paths compute
 * the same function and the same derivative; they differ only in how tanh is evaluated
 * (float32 rounding, ~1e-7).
 *
 * The tf-op forward is exactly the chain gpt2.ts used before (x·x·x, not pow), so wasm
 * results are bit-for-bit unchanged. Gradients are first order: differentiating the
 * gradient again is not supported (nothing in factlab does).
 */
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { GeluNewProgram } from './gelu-webgpu';

export const GELU_NEW_KERNEL = 'FactlabGeluNew';
export const GELU_NEW_GRAD_KERNEL = 'FactlabGeluNewGrad';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const COEFF = 0.044715;

/** y = 0.5·x·(1 + tanh(u)) from tf ops; also returns t = tanh(u) for the gradient. */
function forwardOps(x: tf.Tensor): { y: tf.Tensor; t: tf.Tensor } {
  const inner = tf.mul(SQRT_2_OVER_PI, tf.add(x, tf.mul(COEFF, tf.mul(tf.mul(x, x), x))));
  const t = tf.tanh(inner);
  return { y: tf.mul(tf.mul(x, 0.5), tf.add(1, t)), t };
}

/** dy · gelu_new'(x) from tf ops, given t = tanh(u(x)); the WGSL backward evaluates the same expression. */
function backwardOps(dy: tf.Tensor, x: tf.Tensor, t: tf.Tensor): tf.Tensor {
  const x2 = tf.mul(x, x);
  const sech2 = tf.mul(tf.sub(1, t), tf.add(1, t)); // 1 − t², without losing 1 − t near |t| = 1
  const du = tf.mul(SQRT_2_OVER_PI, tf.add(1, tf.mul(3 * COEFF, x2)));
  const slope = tf.add(tf.mul(0.5, tf.add(1, t)), tf.mul(tf.mul(tf.mul(x, 0.5), sech2), du));
  return tf.mul(dy, slope);
}

/** The tf-op path, with the hand-written gradient; runs on any backend. */
export const geluNewComposite: (x: tf.Tensor) => tf.Tensor = tf.customGrad((x, save) => {
  const input = x as tf.Tensor;
  const { y, t } = forwardOps(input);
  // Keep t from the forward: the backward then needs 5 ops fewer (only saved under a tape).
  (save as tf.GradSaveFunc)([input, t]);
  return {
    value: y,
    gradFunc: (dy, saved) => {
      const [xSaved, tSaved] = saved;
      return backwardOps(dy as tf.Tensor, xSaved, tSaved);
    },
  };
}) as (x: tf.Tensor) => tf.Tensor;

function runProgram(backend: unknown, pass: 'forward' | 'backward', inputs: tf.TensorInfo[]): tf.TensorInfo {
  for (const input of inputs) {
    if (input.dtype !== 'float32') throw new Error(`${pass === 'forward' ? GELU_NEW_KERNEL : GELU_NEW_GRAD_KERNEL} needs float32 inputs, got ${input.dtype}`);
  }
  const program = new GeluNewProgram(inputs[0].shape, pass, SQRT_2_OVER_PI, COEFF);
  return (backend as WebGPUBackend).runWebGPUProgram(program, inputs, 'float32');
}

let registered = false;

/** Registers the webgpu kernels and the fused op's gradient (idempotent; done on import). */
export function registerGeluNewKernels(): void {
  if (registered) return;
  registered = true;
  if (!tf.getKernel(GELU_NEW_KERNEL, 'webgpu')) {
    tf.registerKernel({
      kernelName: GELU_NEW_KERNEL,
      backendName: 'webgpu',
      kernelFunc: ({ inputs, backend }) => runProgram(backend, 'forward', [(inputs as { x: tf.TensorInfo }).x]),
    });
  }
  if (!tf.getKernel(GELU_NEW_GRAD_KERNEL, 'webgpu')) {
    tf.registerKernel({
      kernelName: GELU_NEW_GRAD_KERNEL,
      backendName: 'webgpu',
      kernelFunc: ({ inputs, backend }) => {
        const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
        return runProgram(backend, 'backward', [x, dy]);
      },
    });
  }
  if (!tf.getGradient(GELU_NEW_KERNEL)) {
    tf.registerGradient({
      kernelName: GELU_NEW_KERNEL,
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => {
        const [x] = saved;
        return { x: () => tf.engine().runKernel(GELU_NEW_GRAD_KERNEL, { x, dy: dy as tf.Tensor }, {}) as tf.Tensor };
      },
    });
  }
}
registerGeluNewKernels();

/** Whether `geluNew` runs the fused kernels on the current backend. */
export function hasFusedGeluNew(): boolean {
  const backend = tf.getBackend();
  return tf.getKernel(GELU_NEW_KERNEL, backend) !== undefined && tf.getKernel(GELU_NEW_GRAD_KERNEL, backend) !== undefined;
}

/** The fused path: one kernel forward, one backward. Only on backends with the kernels (webgpu). */
export function geluNewFused(x: tf.Tensor): tf.Tensor {
  if (!hasFusedGeluNew()) throw new Error(`${GELU_NEW_KERNEL} has no kernel on the ${tf.getBackend()} backend`);
  return tf.engine().runKernel(GELU_NEW_KERNEL, { x: asFloat(x) }, {}) as tf.Tensor;
}

function asFloat(x: tf.Tensor): tf.Tensor {
  if (x.dtype !== 'float32') throw new Error(`geluNew needs a float32 tensor, got ${x.dtype}`);
  return x;
}

let override: ((x: tf.Tensor) => tf.Tensor) | null = null;

/**
 * Benchmarks only: make `geluNew` (and so the GPT-2 forward) run `impl` instead of its own
 * choice, e.g. `geluNewComposite` on WebGPU to time the unfused path; `null` restores it.
 */
export function setGeluNewOverride(impl: ((x: tf.Tensor) => tf.Tensor) | null): void {
  override = impl;
}

/** gelu_new(x), differentiable: the fused kernels where the backend has them, tf ops elsewhere. */
export function geluNew(x: tf.Tensor): tf.Tensor {
  if (override) return override(x);
  return hasFusedGeluNew() ? geluNewFused(x) : geluNewComposite(asFloat(x));
}
