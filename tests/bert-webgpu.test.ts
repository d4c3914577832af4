/**
 * BERT on WebGPU (Dawn + SwiftShader in Node) against wasm: the masked-LM forward (exact-erf
 * GELU, post-LayerNorm, tied decoder) and [MASK] attribution. No skipping, as in
 * gelu-kernel-webgpu.test.ts: without a WebGPU adapter the setup fails and says what to install.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { useWebGpu } from '../src/cli/node-webgpu';
import { attributeMasked } from '../src/core/knowledge/bert-attribution';
import { bertForward } from '../src/core/model/bert';
import { bertWeightsFromTensors, disposeBertWeights, type BertWeights } from '../src/core/model/bert-weights';
import { parseSafetensors } from '../src/core/model/safetensors';
import { makeRandomBertCheckpoint, smallBertConfig } from '../scripts/lib/random-bert-checkpoint';
import { maxRelativeError, useWasm } from './helpers/tf';

type Backend = 'wasm' | 'webgpu';

beforeAll(async () => {
  await useWasm();
  await useWebGpu();
});

async function on<T>(backend: Backend, fn: () => Promise<T> | T): Promise<T> {
  if (!(await tf.setBackend(backend))) throw new Error(`cannot switch to ${backend}`);
  return fn();
}

/** Built on wasm: the weights move to WebGPU on first use (Node's WebGPU backend cannot read synchronously). */
const weightsOn = (): Promise<BertWeights> =>
  on('wasm', () => {
    const config = smallBertConfig({ nLayer: 2, nHead: 4, hiddenSize: 32, intermediateSize: 96 });
    return bertWeightsFromTensors(config, parseSafetensors(makeRandomBertCheckpoint({ config, seed: 41, std: 0.3 }).safetensors).tensors);
  });

const prompt = [2, 17, 30, 4, 25, 9, 3];

describe('BERT on WebGPU agrees with wasm', () => {
  it('masked-LM logits within 1e-4 relative', async () => {
    const run = async (backend: Backend) => {
      const weights = await weightsOn();
      return on(backend, async () => {
        const out = bertForward(weights, tf.tensor2d([prompt], [1, prompt.length], 'int32'));
        const values = (await out.data()) as Float32Array;
        out.dispose();
        disposeBertWeights(weights);
        return values;
      });
    };
    expect(maxRelativeError(await run('webgpu'), await run('wasm'))).toBeLessThan(1e-4);
  });

  it('[MASK] attribution within 1e-3 relative per layer', async () => {
    const run = async (backend: Backend) => {
      const weights = await weightsOn();
      return on(backend, async () => {
        const result = await attributeMasked(weights, prompt, 4, 11, { steps: 4 });
        disposeBertWeights(weights);
        return result;
      });
    };
    const [cpu, gpu] = [await run('wasm'), await run('webgpu')];
    for (const [l, layer] of gpu.layers.entries()) expect(maxRelativeError(layer.scores, cpu.layers[l].scores), `layer ${l}`).toBeLessThan(1e-3);
    expect(gpu.pFull).toBeCloseTo(cpu.pFull, 5);
  });
});
