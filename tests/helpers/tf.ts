import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../../src/cli/node-backend';
import type { Gpt2Config } from '../../src/core/model/config';
import { parseSafetensors } from '../../src/core/model/safetensors';
import { gpt2WeightsFromTensors, type Gpt2Weights } from '../../src/core/model/weights';
import { makeRandomCheckpoint, type RandomCheckpointOptions } from '../../scripts/lib/random-checkpoint';
import type { ParamsF64 } from '../reference/gpt2-f64';

let ready: Promise<unknown> | null = null;
/** Tests run on wasm, the backend users get without WebGPU. */
export function useWasm(): Promise<unknown> {
  ready ??= initNodeBackend('wasm');
  return ready;
}

export interface Fixture {
  config: Gpt2Config;
  weights: Gpt2Weights;
  /** The exact values the tfjs model holds, in float64, for the reference forward. */
  params64: ParamsF64;
}

export function randomFixture(options: RandomCheckpointOptions): Fixture {
  const { safetensors } = makeRandomCheckpoint(options);
  const { tensors } = parseSafetensors(safetensors);
  const weights = gpt2WeightsFromTensors(options.config, tensors);
  const params64: ParamsF64 = new Map();
  for (const [name, t] of weights.params) params64.set(name, { shape: t.shape, data: Float64Array.from(t.dataSync()) });
  return { config: options.config, weights, params64 };
}

export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / Math.max(scale, 1e-12));
  return worst;
}

export function tensorCount(): number {
  return tf.memory().numTensors;
}
