/**
 * Failures of the backend itself, as opposed to errors of one computation: a lost WebGPU
 * device (driver reset, GPU process crash, another tab taking the GPU) or memory running
 * out. The engine cannot continue on such a backend; the page falls back to the next one.
 */
import * as tf from '@tensorflow/tfjs';

const FAILURE_PATTERNS: Array<[RegExp, string]> = [
  [/device (is |was )?lost|GPUDevice.*lost|instance reference no longer exists/i, 'the GPU device was lost'],
  [/CONTEXT_LOST_WEBGL|context (is |was )?lost/i, 'the WebGL context was lost'],
  [/out of memory|array buffer allocation failed|could not allocate memory|cannot enlarge memory|failed to allocate/i, 'the backend ran out of memory'],
];

/** Why `err` means the backend failed (a sentence for the page), or null for an ordinary error. */
export function backendFailureReason(err: unknown): string | null {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  for (const [pattern, reason] of FAILURE_PATTERNS) if (pattern.test(text)) return `${reason} (${text.slice(0, 200)})`;
  return null;
}

interface GpuDeviceLike {
  lost: Promise<{ reason?: string; message?: string }>;
}

/**
 * Calls `onLost` once when the WebGPU device of the current backend is lost while it is
 * still the active backend (a loss after switching away is nobody's concern).
 */
export function watchDeviceLoss(onLost: (reason: string) => void): void {
  if (tf.getBackend() !== 'webgpu') return;
  const backend = tf.backend() as unknown as { device?: GpuDeviceLike };
  const device = backend.device;
  if (!device?.lost) return;
  void device.lost.then((info) => {
    if (tf.getBackend() !== 'webgpu' || (tf.backend() as unknown as { device?: GpuDeviceLike }).device !== device) return;
    onLost(`the GPU device was lost (${info.message || info.reason || 'no reason given'})`);
  });
}
