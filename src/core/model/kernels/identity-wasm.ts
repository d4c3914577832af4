/**
 * tfjs-backend-wasm's Identity kernel copies its input, unlike the cpu, WebGL and WebGPU
 * backends, whose Identity shares the data (reference-counted). `tf.clone` is Identity, and the
 * gradient tape clones every input it saves: so on wasm every forward pass under a gradient
 * copied each weight it multiplied (a 768 × 50257 unembedding per pass), and the saved copies
 * had new data ids, which defeated the transposed-weight cache of ../matmul.ts in the backward
 * pass. Tensors are immutable, so sharing is safe; it is what the other backends do.
 */
import * as tf from '@tensorflow/tfjs';

let installed = false;

export function shareIdentityDataOnWasm(): void {
  if (installed || !tf.getKernel(tf.Identity, 'wasm')) return;
  installed = true;
  tf.unregisterKernel(tf.Identity, 'wasm');
  tf.registerKernel({
    kernelName: tf.Identity,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const x = inputs.x as tf.TensorInfo;
      (backend as unknown as { incRef(dataId: object): void }).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    },
  });
}
