/**
 * Data-parallel training on two cores: the tfjs wasm backend is single-threaded in Node, so a
 * worker thread computes the gradients of half of each batch while this thread does the other
 * half. Gradients are summed exactly (see computeGradients), so the result does not depend on
 * the split beyond float rounding.
 */
import * as tf from '@tensorflow/tfjs';
import { Worker } from 'node:worker_threads';
import type { Gpt2Weights } from '../../src/core/model/weights';
import { addGradients, applyGradients, computeGradients, type AdamWSettings, type Batch, type Gradients, type OptimizerState } from './train-lm';

export class ParallelTrainer {
  private pending: { resolve: (g: Gradients) => void; reject: (e: unknown) => void } | null = null;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: { loss: number; weight: number; values: Array<[string, Float32Array]> }) => {
      this.pending?.resolve({ loss: m.loss, weight: m.weight, values: new Map(m.values) });
      this.pending = null;
    });
    worker.on('error', (err) => {
      this.pending?.reject(err);
      this.pending = null;
    });
  }

  static async start(weights: Gpt2Weights, params: Map<string, tf.Variable>): Promise<ParallelTrainer> {
    // The worker is TypeScript: register tsx inside it before importing the module.
    const tsx = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./train-worker.ts', import.meta.url).href;
    const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); })`;
    const worker = new Worker(boot, {
      eval: true,
      workerData: { config: weights.config, shapes: [...params].map(([name, p]) => [name, p.shape]) },
    });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return new ParallelTrainer(worker);
  }

  step(weights: Gpt2Weights, params: Map<string, tf.Variable>, state: OptimizerState, batch: Batch, s: AdamWSettings): Promise<number> {
    const half = Math.ceil(batch.tokens.length / 2);
    const shard = (from: number, to: number): Batch => ({ tokens: batch.tokens.slice(from, to), weights: batch.weights.slice(from, to) });
    const values = [...params].map(([name, p]) => [name, p.dataSync() as Float32Array] as [string, Float32Array]);
    const remote = new Promise<Gradients>((resolve, reject) => {
      this.pending = { resolve, reject };
    });
    this.worker.postMessage({ params: values, batch: shard(half, batch.tokens.length) });
    const local = computeGradients(weights, params, shard(0, half));
    return remote.then((other) => {
      addGradients(local, other);
      return applyGradients(params, state, local, s);
    });
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}
