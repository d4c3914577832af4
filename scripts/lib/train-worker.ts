/** A gradient worker for data-parallel training: receives parameters and a batch shard, returns its gradients. */
import * as tf from '@tensorflow/tfjs';
import { parentPort, workerData } from 'node:worker_threads';
import { initNodeBackend } from '../../src/cli/node-backend';
import type { Gradients, RowBatch } from './train-optim';

interface Message {
  params: Array<[string, Float32Array]>;
  batch: RowBatch;
}

const { module, config, shapes } = workerData as { module: string; config: unknown; shapes: Array<[string, number[]]> };
await initNodeBackend('wasm');
const { computeGradients } = (await import(module)) as { computeGradients: (config: unknown, params: Map<string, tf.Variable>, batch: RowBatch) => Gradients };
const params = new Map(shapes.map(([name, shape]) => [name, tf.variable(tf.zeros(shape), true, name)]));

parentPort!.on('message', ({ params: values, batch }: Message) => {
  // Inside tidy: an assigned tensor left alive would keep its buffer referenced forever.
  tf.tidy(() => {
    for (const [name, data] of values) params.get(name)!.assign(tf.tensor(data, params.get(name)!.shape));
  });
  const g = computeGradients(config, params, batch);
  const buffers = [...g.values.values()].map((v) => v.buffer as ArrayBuffer);
  parentPort!.postMessage({ loss: g.loss, weight: g.weight, values: [...g.values] }, buffers);
});
parentPort!.postMessage('ready');
