/**
 * WGSL programs for gelu_new on tfjs-backend-webgpu: one dispatch for the forward and one
 * for the backward, instead of the 9 elementwise kernels of the tf-op forward and the ~15
 * of its hand-written backward (~45 when tfjs autodiff differentiates the chain).
 *
 * The programs follow tfjs-backend-webgpu's WebGPUProgram contract (4.22): the backend
 * generates the buffer bindings (`result`, then one read-only array per `variableNames`
 * entry), the uniforms (`uniforms.size` because `size` is set) and the `_start` entry
 * point, which calls the `main(index)` written here with the flat invocation index.
 * Inputs and output all have the same shape, so the flat index addresses every buffer
 * directly; when the element count is a multiple of 4 the buffers are read as vec4<f32>
 * (a quarter of the invocations, and SIMD on CPU emulations such as SwiftShader).
 *
 * The arithmetic mirrors the tf-op path in gelu.ts operation for operation, so both
 * backends evaluate the same expression; only tanh differs in implementation. WGSL's
 * builtin tanh may evaluate (e^{2u} − 1)/(e^{2u} + 1) and give inf/inf = NaN for large
 * |u| on some drivers, so tanh is taken from e = exp(−2|u|) ∈ (0, 1], which cannot
 * overflow: tanh(u) = sign(u)·(1 − e)/(1 + e).
 */
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu';

export type GeluNewPass = 'forward' | 'backward';

/** Invocations per workgroup (a multiple of 64, the usual SIMD width on GPUs). */
const WORKGROUP_X = 128;

const f32 = (value: number) => {
  const text = String(Math.fround(value));
  return /[.e]/.test(text) ? text : `${text}.0`;
};

export class GeluNewProgram implements WebGPUProgram {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [WORKGROUP_X, 1, 1];
  variableNames: string[];
  variableComponents: number[];
  outputComponent: number;
  size = true;

  constructor(
    shape: number[],
    readonly pass: GeluNewPass,
    private readonly sqrt2OverPi: number,
    private readonly coeff: number,
  ) {
    this.outputShape = shape;
    const count = shape.reduce((a, b) => a * b, 1);
    this.outputComponent = count % 4 === 0 ? 4 : 1;
    this.variableNames = pass === 'forward' ? ['X'] : ['X', 'DY'];
    this.variableComponents = this.variableNames.map(() => this.outputComponent);
    this.dispatchLayout = { x: shape.map((_, i) => i) };
    // One invocation per output element (or per vec4); the backend splits dispatches that
    // exceed the per-dimension limit over y/z itself and recomputes the flat index.
    this.dispatch = [Math.max(1, Math.ceil(count / this.outputComponent / WORKGROUP_X)), 1, 1];
    this.shaderKey = `factlab_gelu_new_${pass}_${this.outputComponent}`;
  }

  getUserCode(): string {
    const type = this.outputComponent === 4 ? 'vec4<f32>' : 'f32';
    const c = f32(this.sqrt2OverPi);
    const k = f32(this.coeff);
    const k3 = f32(3 * this.coeff);
    // Same association as the tf-op chain: inner = c·(x + k·((x·x)·x)).
    const head = `
      fn factlabTanh(u : ${type}) -> ${type} {
        let e = exp(-2.0 * abs(u));
        return sign(u) * ((1.0 - e) / (1.0 + e));
      }
    `;
    if (this.pass === 'forward') {
      return `${head}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let x = X[index];
          let t = factlabTanh(${c} * (x + ${k} * ((x * x) * x)));
          setOutputAtIndex(index, (x * 0.5) * (1.0 + t));
        }
      }
      `;
    }
    // dy · [0.5·(1 + t) + (0.5·x·(1 − t)(1 + t))·(c·(1 + 3k·x²))]; (1 − t)(1 + t) rather
    // than 1 − t² keeps the precision of 1 − t when |t| is near 1.
    return `${head}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let x = X[index];
          let dy = DY[index];
          let x2 = x * x;
          let t = factlabTanh(${c} * (x + ${k} * (x2 * x)));
          let slope = 0.5 * (1.0 + t) + ((x * 0.5) * ((1.0 - t) * (1.0 + t))) * (${c} * (1.0 + ${k3} * x2));
          setOutputAtIndex(index, dy * slope);
        }
      }
      `;
  }
}
