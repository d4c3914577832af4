/**
 * Backend selection: WebGPU when an adapter exists, then WebAssembly (SIMD, threads when
 * cross-origin isolated), then WebGL, then CPU. Importing the union package registers
 * every gradient (tfjs-core alone does not).
 */
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgpu';
import { FactlabError } from './errors';
import { shareIdentityDataOnWasm } from './model/kernels/identity-wasm';

export const BACKENDS = ['webgpu', 'wasm', 'webgl', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface BackendInfo {
  name: BackendName;
  /** Backends tried before this one, with why each failed. */
  skipped: Array<{ name: BackendName; reason: string }>;
  /** wasm only: whether SIMD / threads are on. */
  wasmFeatures?: { simd: boolean; threads: boolean };
}

export interface BackendOptions {
  /** Use exactly this backend (error if it cannot start) instead of the fallback order. */
  force?: BackendName;
  /** Where the .wasm binaries are served from: a directory/URL prefix ending in '/', or a map per file. */
  wasmPaths?: string | Record<string, string>;
}

export function isBackendName(name: string): name is BackendName {
  return (BACKENDS as readonly string[]).includes(name);
}

async function hasWebGpuAdapter(): Promise<string | null> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
  if (!gpu) return 'this environment has no navigator.gpu';
  try {
    return (await gpu.requestAdapter()) ? null : 'no WebGPU adapter is available';
  } catch (err) {
    return `requesting a WebGPU adapter failed: ${(err as Error).message}`;
  }
}

async function tryBackend(name: BackendName): Promise<string | null> {
  if (name === 'webgpu') {
    const reason = await hasWebGpuAdapter();
    if (reason) return reason;
  }
  if (name === 'webgl' && typeof OffscreenCanvas === 'undefined' && typeof document === 'undefined') {
    return 'WebGL needs a canvas, which this environment lacks';
  }
  try {
    const ok = await tf.setBackend(name);
    if (!ok) return `tf.setBackend('${name}') failed`;
    await tf.ready();
    // A tiny op proves the backend really computes (some fail only on first use).
    // Read back asynchronously: WebGPU's dataSync in a worker (SwiftShader) returns zeros.
    const product = tf.tidy(() => tf.matMul(tf.ones([2, 2]), tf.ones([2, 2])));
    const probe = (await product.data())[0];
    product.dispose();
    return probe === 2 ? null : `${name} computed a wrong probe result (${probe} instead of 2)`;
  } catch (err) {
    return (err as Error).message;
  }
}

export async function initBackend(options: BackendOptions = {}): Promise<BackendInfo> {
  if (options.wasmPaths) setWasmPaths(options.wasmPaths as string);
  const order = options.force ? [options.force] : BACKENDS;
  const skipped: BackendInfo['skipped'] = [];
  for (const name of order) {
    const reason = await tryBackend(name);
    if (reason === null) {
      const info: BackendInfo = { name, skipped };
      if (name === 'wasm') {
        shareIdentityDataOnWasm();
        info.wasmFeatures = {
          simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
          threads: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
        };
      }
      return info;
    }
    skipped.push({ name, reason });
  }
  const detail = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new FactlabError('no-backend', options.force ? `Backend ${options.force} could not start (${detail}).` : `No TensorFlow.js backend could start (${detail}).`);
}
