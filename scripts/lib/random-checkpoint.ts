/**
 * Random GPT-2 checkpoints in Hugging Face layout, for tests, benchmarks and the
 * parity checks: nothing in them is learned, so they must never pass for a real model.
 */
import { gpt2ConfigToJson, type Gpt2Config } from '../../src/core/model/config';
import { writeSafetensors, type SafetensorsDtype, type TensorToWrite } from '../../src/core/model/safetensors';
import { gpt2ParamShapes } from '../../src/core/model/weights';
import { makeRng, normal } from '../../src/core/random';

export interface RandomCheckpointOptions {
  config: Gpt2Config;
  seed: number;
  dtype?: SafetensorsDtype;
  /** Store names with the `transformer.` prefix, as some HF exports do. */
  prefixed?: boolean;
  /** Include the `h.N.attn.bias` causal-mask buffers that HF files carry. */
  withAttnBias?: boolean;
  /** Standard deviation of weights (GPT-2 init uses 0.02; larger makes tests more sensitive). */
  std?: number;
}

export function smallConfig(overrides: Partial<Gpt2Config> = {}): Gpt2Config {
  return {
    arch: 'gpt2', vocabSize: 300, nPositions: 64, nEmbd: 16, nLayer: 2, nHead: 2, nInner: 64,
    layerNormEpsilon: 1e-5, activation: 'gelu_new', eosTokenId: 299, ...overrides,
  };
}

export function gpt2SmallConfig(): Gpt2Config {
  return { arch: 'gpt2', vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, nInner: 3072, layerNormEpsilon: 1e-5, activation: 'gelu_new', eosTokenId: 50256 };
}

export function makeRandomCheckpoint(options: RandomCheckpointOptions): { configJson: Record<string, unknown>; safetensors: Uint8Array } {
  const { config, seed } = options;
  const rng = makeRng(seed);
  const std = options.std ?? 0.02;
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, shape] of gpt2ParamShapes(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const isNorm = /ln_\d|ln_f/.test(name);
    for (let i = 0; i < size; i++) {
      // LayerNorm gains near 1 (not exactly, so the gain path is exercised); biases small.
      data[i] = isNorm && name.endsWith('weight') ? 1 + 0.1 * normal(rng) : (name.endsWith('bias') ? 0.5 : 1) * std * normal(rng);
    }
    tensors[(options.prefixed ? 'transformer.' : '') + name] = { shape, data, dtype: options.dtype ?? 'F32' };
  }
  if (options.withAttnBias) {
    const n = config.nPositions;
    for (let l = 0; l < config.nLayer; l++) {
      const mask = new Float32Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) mask[i * n + j] = 1;
      tensors[`${options.prefixed ? 'transformer.' : ''}h.${l}.attn.bias`] = { shape: [1, 1, n, n], data: mask };
    }
  }
  return { configJson: gpt2ConfigToJson(config), safetensors: writeSafetensors(tensors, { format: 'pt', generator: 'factlab random-checkpoint' }) };
}
