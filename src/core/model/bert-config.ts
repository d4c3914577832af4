/**
 * BERT configuration as plain data, read from a Hugging Face config.json
 * (bert-base-cased / -uncased layout), validated field by field like config.ts does for GPT-2.
 */
import { FactlabError, previewValue } from '../errors';

export type BertActivation = 'gelu' | 'gelu_new';

export interface BertConfig {
  arch: 'bert';
  vocabSize: number;
  hiddenSize: number;
  nLayer: number;
  nHead: number;
  /** FFN width (neurons per layer). */
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEpsilon: number;
  activation: BertActivation;
  padTokenId: number;
}

const LIMITS = { vocab: 1_000_000, positions: 1 << 16, hidden: 1 << 15, layers: 256, heads: 1024, types: 64 };

function positiveInt(json: Record<string, unknown>, key: string, max: number, fallback?: number): number {
  const value = json[key] ?? fallback;
  if (!Number.isSafeInteger(value) || (value as number) <= 0 || (value as number) > max) {
    throw new FactlabError('bad-config', `config.json: "${key}" must be a positive integer ≤ ${max}, got ${previewValue(json[key])}.`);
  }
  return value as number;
}

export function parseBertConfig(input: unknown): BertConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FactlabError('bad-config', 'config.json must be a JSON object.');
  }
  const json = input as Record<string, unknown>;
  if (json.model_type !== 'bert') {
    throw new FactlabError('unsupported-model', `config.json: model_type ${previewValue(json.model_type)} is not a BERT; expected "bert".`);
  }
  const hiddenSize = positiveInt(json, 'hidden_size', LIMITS.hidden);
  const nHead = positiveInt(json, 'num_attention_heads', LIMITS.heads);
  if (hiddenSize % nHead !== 0) {
    throw new FactlabError('bad-config', `config.json: hidden_size (${hiddenSize}) must be divisible by num_attention_heads (${nHead}).`);
  }
  const activation = json.hidden_act ?? 'gelu';
  if (activation !== 'gelu' && activation !== 'gelu_new') {
    throw new FactlabError('bad-config', `config.json: hidden_act ${previewValue(activation)} is not supported (use gelu or gelu_new).`);
  }
  const positionType = json.position_embedding_type ?? 'absolute';
  if (positionType !== 'absolute') {
    throw new FactlabError('bad-config', `config.json: position_embedding_type ${previewValue(positionType)} is not supported; only "absolute" (BERT's) is.`);
  }
  if (json.tie_word_embeddings === false) {
    throw new FactlabError('bad-config', 'config.json: tie_word_embeddings is false; factlab supports BERT only with the MLM decoder tied to the word embeddings.');
  }
  const eps = json.layer_norm_eps ?? 1e-12;
  if (typeof eps !== 'number' || !(eps > 0 && eps < 1)) {
    throw new FactlabError('bad-config', `config.json: layer_norm_eps must be a small positive number, got ${previewValue(eps)}.`);
  }
  const vocabSize = positiveInt(json, 'vocab_size', LIMITS.vocab);
  const pad = json.pad_token_id ?? 0;
  if (!Number.isSafeInteger(pad) || (pad as number) < 0 || (pad as number) >= vocabSize) {
    throw new FactlabError('bad-config', `config.json: pad_token_id ${previewValue(pad)} is outside the vocabulary (size ${vocabSize}).`);
  }
  return {
    arch: 'bert',
    vocabSize,
    hiddenSize,
    nLayer: positiveInt(json, 'num_hidden_layers', LIMITS.layers),
    nHead,
    intermediateSize: positiveInt(json, 'intermediate_size', 8 * LIMITS.hidden, 4 * hiddenSize),
    maxPositions: positiveInt(json, 'max_position_embeddings', LIMITS.positions),
    typeVocabSize: positiveInt(json, 'type_vocab_size', LIMITS.types, 2),
    layerNormEpsilon: eps,
    activation,
    padTokenId: pad as number,
  };
}

/** The HF config.json for a config (used by the fixture and training scripts). */
export function bertConfigToJson(config: BertConfig): Record<string, unknown> {
  return {
    architectures: ['BertForMaskedLM'],
    model_type: 'bert',
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    num_hidden_layers: config.nLayer,
    num_attention_heads: config.nHead,
    intermediate_size: config.intermediateSize,
    max_position_embeddings: config.maxPositions,
    type_vocab_size: config.typeVocabSize,
    layer_norm_eps: config.layerNormEpsilon,
    hidden_act: config.activation,
    pad_token_id: config.padTokenId,
    position_embedding_type: 'absolute',
  };
}
