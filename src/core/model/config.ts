/**
 * Model configuration as plain data, read from a Hugging Face config.json.
 * Field names follow nanoGPT/HF; every field is validated so that a bad file
 * fails here with a message instead of deep inside a matmul.
 */
import { FactlabError, previewValue } from '../errors';

export type Activation = 'gelu_new' | 'gelu';

export interface Gpt2Config {
  arch: 'gpt2';
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** FFN width (the number of neurons per layer); HF's n_inner, default 4·n_embd. */
  nInner: number;
  layerNormEpsilon: number;
  activation: Activation;
  /** Token id that ends a text (GPT-2: 50256); used as BOS/pad where needed. */
  eosTokenId: number;
}

export type ModelConfig = Gpt2Config;

const LIMITS = { vocab: 1_000_000, positions: 1 << 16, embd: 1 << 15, layers: 256, heads: 1024 };

function positiveInt(json: Record<string, unknown>, key: string, max: number, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (!Number.isSafeInteger(value) || (value as number) <= 0 || (value as number) > max) {
    throw new FactlabError('bad-config', `config.json: "${key}" must be a positive integer ≤ ${max}, got ${previewValue(json[key])}.`);
  }
  return value as number;
}

export function parseGpt2Config(input: unknown): Gpt2Config {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FactlabError('bad-config', 'config.json must be a JSON object.');
  }
  const json = input as Record<string, unknown>;
  const modelType = json.model_type ?? 'gpt2';
  if (modelType !== 'gpt2') {
    throw new FactlabError('unsupported-model', `config.json: model_type ${previewValue(modelType)} is not supported here; expected "gpt2".`);
  }
  const nEmbd = positiveInt(json, 'n_embd', LIMITS.embd);
  const nHead = positiveInt(json, 'n_head', LIMITS.heads);
  if (nEmbd % nHead !== 0) throw new FactlabError('bad-config', `config.json: n_embd (${nEmbd}) must be divisible by n_head (${nHead}).`);
  const nInner = json.n_inner == null ? 4 * nEmbd : positiveInt(json, 'n_inner', 8 * LIMITS.embd);
  const activationName = json.activation_function ?? 'gelu_new';
  if (activationName !== 'gelu_new' && activationName !== 'gelu') {
    throw new FactlabError('bad-config', `config.json: activation_function ${previewValue(activationName)} is not supported (use gelu_new or gelu).`);
  }
  const eps = json.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0 && eps < 1)) {
    throw new FactlabError('bad-config', `config.json: layer_norm_epsilon must be a small positive number, got ${previewValue(eps)}.`);
  }
  const vocabSize = positiveInt(json, 'vocab_size', LIMITS.vocab);
  const eos = json.eos_token_id ?? vocabSize - 1;
  if (!Number.isSafeInteger(eos) || (eos as number) < 0 || (eos as number) >= vocabSize) {
    throw new FactlabError('bad-config', `config.json: eos_token_id ${previewValue(eos)} is outside the vocabulary (size ${vocabSize}).`);
  }
  return {
    arch: 'gpt2',
    vocabSize,
    nPositions: positiveInt(json, 'n_positions', LIMITS.positions, json.n_ctx as number | undefined),
    nEmbd,
    nLayer: positiveInt(json, 'n_layer', LIMITS.layers),
    nHead,
    nInner,
    layerNormEpsilon: eps,
    activation: activationName,
    eosTokenId: eos as number,
  };
}

/** The HF config.json for a config (used by the fixture and training scripts). */
export function gpt2ConfigToJson(config: Gpt2Config): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: config.vocabSize,
    n_positions: config.nPositions,
    n_ctx: config.nPositions,
    n_embd: config.nEmbd,
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_inner: config.nInner,
    activation_function: config.activation,
    layer_norm_epsilon: config.layerNormEpsilon,
    bos_token_id: config.eosTokenId,
    eos_token_id: config.eosTokenId,
  };
}
