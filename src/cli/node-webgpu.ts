/**
 * WebGPU in Node (CLI `--backend webgpu`, tests, benchmarks): Dawn (the `webgpu` devDependency) on Chromium's
 * SwiftShader Vulkan driver, a CPU emulation of a GPU. Debian's Mesa lavapipe is rejected
 * by Dawn, so VK_ICD_FILENAMES points the Vulkan loader at SwiftShader when it is installed.
 *
 * `useWebGpu()` FAILS (throws with what is missing) rather than skipping: CI installs
 * chromium and libvulkan1, so a missing adapter there is a broken environment, not an
 * optional feature.
 */
import { existsSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { FactlabError } from '../core/errors';
import { initNodeBackend } from './node-backend';

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface WebGpuInfo {
  /** Adapter description, e.g. "SwiftShader driver 5.0.0". */
  adapter: string;
  /** Whether the adapter is SwiftShader (a CPU emulation: timings are indicative only). */
  software: boolean;
  icd: string | undefined;
}

const HINT = `Install chromium (it ships SwiftShader at ${SWIFTSHADER_ICD}) and libvulkan1 ` +
  '(apt-get install -y chromium libvulkan1), or set VK_ICD_FILENAMES to a Vulkan driver Dawn accepts.';

type Gpu = { requestAdapter(options?: unknown): Promise<GpuAdapter | null> };
type GpuAdapter = {
  info?: Record<string, string>;
  limits: Record<string, number>;
  features: Set<string>;
  requestDevice(descriptor?: unknown): Promise<unknown>;
};

function navigatorGpu(): Gpu | undefined {
  return (globalThis as { navigator?: { gpu?: Gpu } }).navigator?.gpu;
}

async function installDawn(): Promise<Gpu> {
  const existing = navigatorGpu();
  if (existing) return existing;
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  let dawn: { create(flags: string[]): Gpu; globals: object };
  try {
    dawn = (await import('webgpu')) as unknown as typeof dawn;
  } catch (err) {
    throw new FactlabError('no-backend', `WebGPU in Node needs the "webgpu" package (Dawn for Node, a devDependency), which failed to load: ${(err as Error).message}`);
  }
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  return gpu;
}

function describeAdapter(adapter: GpuAdapter): string {
  const info = adapter.info ?? {};
  const parts = [info.description, info.vendor, info.architecture, info.device].filter((p) => typeof p === 'string' && p.length > 0);
  return parts.length > 0 ? parts.join(' / ') : 'unknown adapter';
}

/**
 * tfjs-backend-webgpu registers its factory only if navigator.gpu exists when it is first
 * imported, which in Node is before this helper runs (src/core/backend.ts imports it).
 * Then the factory is registered here: device with the adapter's limits, as the package does.
 */
function ensureFactory(gpu: Gpu): void {
  if (tf.findBackendFactory('webgpu')) return;
  tf.registerBackend('webgpu', async () => {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new Error(`no WebGPU adapter. ${HINT}`);
    const limits = [
      'maxComputeWorkgroupStorageSize', 'maxComputeWorkgroupsPerDimension', 'maxStorageBufferBindingSize',
      'maxBufferSize', 'maxComputeWorkgroupSizeX', 'maxComputeInvocationsPerWorkgroup',
    ];
    const requiredFeatures = ['timestamp-query'].filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: Object.fromEntries(limits.map((name) => [name, adapter.limits[name]])),
    });
    return new WebGPUBackend(device as ConstructorParameters<typeof WebGPUBackend>[0], adapter.info as ConstructorParameters<typeof WebGPUBackend>[1]);
  }, 3);
}

let ready: Promise<WebGpuInfo> | null = null;

/** Installs Dawn as navigator.gpu and registers the tfjs webgpu backend; throws with what is missing. */
export function prepareNodeWebGpu(): Promise<WebGpuInfo> {
  ready ??= (async () => {
    const gpu = await installDawn();
    let adapter: GpuAdapter | null;
    try {
      adapter = await gpu.requestAdapter();
    } catch (err) {
      throw new FactlabError('no-backend', `WebGPU: requesting an adapter failed (${(err as Error).message}). ${HINT}`);
    }
    if (!adapter) {
      throw new FactlabError('no-backend', `WebGPU: Dawn found no adapter (VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? 'unset'}). ${HINT}`);
    }
    ensureFactory(gpu);
    const description = describeAdapter(adapter);
    return { adapter: description, software: /swiftshader/i.test(description), icd: process.env.VK_ICD_FILENAMES };
  })();
  return ready;
}

/** Sets up Dawn + SwiftShader and makes webgpu the current tfjs backend (tests and benchmarks). */
export async function useWebGpu(): Promise<WebGpuInfo> {
  await initNodeBackend('webgpu');
  return ready!.then(async (info) => {
    if (tf.getBackend() !== 'webgpu' && !(await tf.setBackend('webgpu'))) throw new Error('WebGPU: tf.setBackend("webgpu") failed');
    return info;
  });
}
