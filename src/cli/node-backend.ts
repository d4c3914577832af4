/** Starting tfjs in Node: the wasm backend needs the path of its .wasm files on disk. */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { initBackend, type BackendInfo, type BackendName } from '../core/backend';

export function wasmDistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/';
}

/**
 * wasm unless told otherwise: the cpu backend is ~40× slower, and Node has no WebGL.
 * WebGPU runs on Dawn (the `webgpu` package), set up on first use.
 */
export async function initNodeBackend(force: BackendName = 'wasm'): Promise<BackendInfo> {
  if (force === 'webgpu') await (await import('./node-webgpu')).prepareNodeWebGpu();
  return initBackend({ force, wasmPaths: wasmDistDir() });
}
