/** A gradient worker for data-parallel training: receives parameters and a batch shard, returns its gradients. */
import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { initNodeBackend } from '../../src/cli/node-backend';
import type { Gpt2Config } from '../../src/core/model/config';
import type { Gpt2Weights } from '../../src/core/model/weights';
import { computeGradients, type Batch } from './train-lm';

interface Message {
  params: Array<[string, Float32Array]>;
  batch: Batch;
}

const { config, shapes } = workerData as { config: Gpt2Config; shapes: Array<[string, number[]]> };
await initNodeBackend('wasm');
const params = new Map(shapes.map(([name, shape]) => [name, tf.variable(tf.zeros(shape), true, name)]));
const weights: Gpt2Weights = { config, params: params as unknown as Map<string, tf.Tensor> };

parentPort!.on('message', ({ params: values, batch }: Message) => {
  // Inside tidy: an assigned tensor left alive would keep its buffer referenced forever.
  tf.tidy(() => {
    for (const [name, data] of values) params.get(name)!.assign(tf.tensor(data, params.get(name)!.shape));
  });
  const g = computeGradients(weights, params, batch);
  const buffers = [...g.values.values()].map((v) => v.buffer as ArrayBuffer);
  parentPort!.postMessage({ loss: g.loss, weight: g.weight, values: [...g.values] }, buffers);
});
parentPort!.postMessage('ready');
