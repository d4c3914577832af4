/**
 * Where a tfjs computation spends its time: one call under `tf.profile`, with the kernel
 * times summed by kernel name and by kernel name + input shapes.
 *
 * On the wasm backend kernels run synchronously and `backend.time` measures each kernel's
 * wall time, so the kernel total is comparable with the call's wall time; the remainder is
 * JavaScript outside the kernels (op dispatch, the gradient tape, tidy/dispose, awaits).
 * Profiling adds its own overhead per kernel, so the profiled wall time is a little longer
 * than an unprofiled run.
 */
import * as tf from '@tensorflow/tfjs';

export interface KernelGroup {
  key: string;
  calls: number;
  ms: number;
  /** Share of the total kernel time. */
  share: number;
}

export interface KernelProfile {
  wallMs: number;
  kernelMs: number;
  kernels: number;
  byName: KernelGroup[];
  byShape: KernelGroup[];
  peakBytes: number;
  /** customGrad scopes (their inner kernels are already in the totals above); share is of kernelMs. */
  compositeMs: number;
  composites: KernelGroup[];
}

const shapeText = (s: number[] | null) => (s ? `[${s.join(',')}]` : '-');

function group(entries: Array<{ key: string; ms: number }>, total: number): KernelGroup[] {
  const map = new Map<string, { calls: number; ms: number }>();
  for (const { key, ms } of entries) {
    const g = map.get(key) ?? { calls: 0, ms: 0 };
    g.calls++;
    g.ms += ms;
    map.set(key, g);
  }
  return [...map.entries()]
    .map(([key, g]) => ({ key, calls: g.calls, ms: g.ms, share: total > 0 ? g.ms / total : 0 }))
    .sort((a, b) => b.ms - a.ms);
}

/** Runs `fn` once under tf.profile and summarises its kernels. */
export async function profileKernels(fn: () => Promise<unknown> | unknown): Promise<KernelProfile> {
  const started = performance.now();
  const info = await tf.profile(async () => {
    await fn();
  });
  const wallMs = performance.now() - started;
  // tf.customGrad ops (tf.logSoftmax, the gelu_new composite, …) are recorded as one entry
  // named after their scope *and* as the kernels they run inside, which are recorded too:
  // only registered kernels count, so nothing is counted twice.
  const backend = tf.getBackend();
  const composite = info.kernels.filter((k) => tf.getKernel(k.name, backend) == null);
  const kernels = info.kernels.filter((k) => tf.getKernel(k.name, backend) != null).map((k) => ({
    name: k.name,
    ms: Number(k.kernelTimeMs) || 0,
    inputs: k.inputShapes.map(shapeText).join(' x '),
    outputs: k.outputShapes.map(shapeText).join(','),
  }));
  const kernelMs = kernels.reduce((a, k) => a + k.ms, 0);
  return {
    wallMs,
    kernelMs,
    kernels: kernels.length,
    byName: group(kernels.map((k) => ({ key: k.name, ms: k.ms })), kernelMs),
    byShape: group(kernels.map((k) => ({ key: `${k.name} ${k.inputs} -> ${k.outputs}`, ms: k.ms })), kernelMs),
    peakBytes: info.peakBytes,
    compositeMs: composite.reduce((a, k) => a + (Number(k.kernelTimeMs) || 0), 0),
    composites: group(composite.map((k) => ({ key: k.name, ms: Number(k.kernelTimeMs) || 0 })), kernelMs),
  };
}
