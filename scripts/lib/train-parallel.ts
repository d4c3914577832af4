/**
 * Data-parallel training on two cores: the tfjs wasm backend is single-threaded in Node, so a
 * worker thread computes the gradients of half of each batch while this thread does the other
 * half. Gradients are summed exactly (see train-optim.ts), so the result does not depend on
 * the split beyond float rounding. The model is whatever a gradient module computes: the
 * worker imports the module by URL and calls its `computeGradients(config, params, batch)`.
 */
import * as tf from '@tensorflow/tfjs';
import { Worker } from 'node:worker_threads';
import { addGradients, applyGradients, shardRows, type AdamWSettings, type Gradients, type OptimizerState, type RowBatch } from './train-optim';

export interface GradientSource<C, B extends RowBatch> {
  /** URL of a module exporting `computeGradients` (the worker's copy). */
  module: string;
  /** The same function, for this thread. */
  compute: (config: C, params: Map<string, tf.Variable>, batch: B) => Gradients;
}

export class ParallelTrainer<C, B extends RowBatch> {
  private pending: { resolve: (g: Gradients) => void; reject: (e: unknown) => void } | null = null;

  private constructor(private readonly worker: Worker, private readonly source: GradientSource<C, B>, private readonly config: C) {
    worker.on('message', (m: { loss: number; weight: number; values: Array<[string, Float32Array]> }) => {
      this.pending?.resolve({ loss: m.loss, weight: m.weight, values: new Map(m.values) });
      this.pending = null;
    });
    worker.on('error', (err) => {
      this.pending?.reject(err);
      this.pending = null;
    });
  }

  static async start<C, B extends RowBatch>(source: GradientSource<C, B>, config: C, params: Map<string, tf.Variable>): Promise<ParallelTrainer<C, B>> {
    // The worker is TypeScript: register tsx inside it before importing the module.
    const tsx = import.meta.resolve('tsx/esm/api');
    const entry = new URL('./train-worker.ts', import.meta.url).href;
    const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(entry)}); })`;
    const worker = new Worker(boot, {
      eval: true,
      workerData: { module: source.module, config, shapes: [...params].map(([name, p]) => [name, p.shape]) },
    });
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
    });
    return new ParallelTrainer(worker, source, config);
  }

  step(params: Map<string, tf.Variable>, state: OptimizerState, batch: B, s: AdamWSettings): Promise<number> {
    const half = Math.ceil(batch.tokens.length / 2);
    const values = [...params].map(([name, p]) => [name, p.dataSync() as Float32Array] as [string, Float32Array]);
    const remote = new Promise<Gradients>((resolve, reject) => {
      this.pending = { resolve, reject };
    });
    this.worker.postMessage({ params: values, batch: shardRows(batch, half, batch.tokens.length) });
    const local = this.source.compute(this.config, params, shardRows(batch, 0, half));
    return remote.then((other) => {
      addGradients(local, other);
      return applyGradients(params, state, local, s);
    });
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}
