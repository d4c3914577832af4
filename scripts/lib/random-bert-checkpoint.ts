/**
 * Random BERT masked-LM checkpoints in Hugging Face layout (`bert.` prefixes, Linear
 * weights [out, in], the pooler and next-sentence head HF files carry), for tests and
 * benchmarks: nothing in them is learned, so they must never pass for a real model.
 */
import { bertConfigToJson, type BertConfig } from '../../src/core/model/bert-config';
import { bertParamShapes } from '../../src/core/model/bert-weights';
import { writeSafetensors, type SafetensorsDtype, type TensorToWrite } from '../../src/core/model/safetensors';
import { makeRng, normal } from '../../src/core/random';
import { hfBertName } from './bert-checkpoint';

export interface RandomBertOptions {
  config: BertConfig;
  seed: number;
  dtype?: SafetensorsDtype;
  /** Standard deviation of weights (BERT init uses 0.02; larger makes parity tests more sensitive). */
  std?: number;
  /** Old TF-converted LayerNorm names (`gamma`/`beta`), as in the original bert-base files. */
  gammaBeta?: boolean;
}

export function smallBertConfig(overrides: Partial<BertConfig> = {}): BertConfig {
  return {
    arch: 'bert', vocabSize: 120, hiddenSize: 16, nLayer: 2, nHead: 2, intermediateSize: 64, maxPositions: 32,
    typeVocabSize: 2, layerNormEpsilon: 1e-12, activation: 'gelu', padTokenId: 0, ...overrides,
  };
}

/** A BERT-style vocab.txt of exactly `size` entries: specials, words, characters, ## pieces, then [unusedN]. */
export function randomBertVocab(size: number): string[] {
  const words = 'the of and is in a capital city country paris france london england berlin germany rome italy language speaks born river'.split(' ');
  const chars = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?\'"()-'];
  const vocab = [...new Set(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...words, ...chars, ...chars.filter((c) => /[a-z0-9]/.test(c)).map((c) => `##${c}`)])];
  if (vocab.length > size) return vocab.slice(0, size);
  for (let i = 0; vocab.length < size; i++) vocab.push(`[unused${i}]`);
  return vocab;
}

export function makeRandomBertCheckpoint(options: RandomBertOptions): { configJson: Record<string, unknown>; safetensors: Uint8Array; vocabTxt: string } {
  const { config } = options;
  const rng = makeRng(options.seed);
  const std = options.std ?? 0.02;
  const dtype = options.dtype ?? 'F32';
  const tensors: Record<string, TensorToWrite> = {};
  const random = (shape: number[], scale: number, offset = 0) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = offset + scale * normal(rng);
    return { shape, data, dtype };
  };
  const hfName = (name: string) => hfBertName(name, options.gammaBeta);
  for (const [name, shape] of bertParamShapes(config)) {
    // LayerNorm gains near 1 (not exactly, so the gain path is exercised); biases small.
    const isGain = /LayerNorm\.weight$/.test(name);
    tensors[hfName(name)] = isGain ? random(shape, 0.1, 1) : random(shape, (name.endsWith('bias') ? 0.5 : 1) * std);
  }
  const d = config.hiddenSize;
  // What HF BertForMaskedLM / BertForPreTraining files also carry; the loader must skip it.
  tensors['bert.pooler.dense.weight'] = random([d, d], std);
  tensors['bert.pooler.dense.bias'] = random([d], std);
  tensors['cls.seq_relationship.weight'] = random([2, d], std);
  tensors['cls.seq_relationship.bias'] = random([2], std);
  tensors['cls.predictions.decoder.weight'] = tensors[hfName('embeddings.word_embeddings.weight')];
  tensors['cls.predictions.decoder.bias'] = tensors['cls.predictions.bias'];
  return {
    configJson: bertConfigToJson(config),
    safetensors: writeSafetensors(tensors, { format: 'pt', generator: 'factlab random-bert-checkpoint' }),
    vocabTxt: `${randomBertVocab(config.vocabSize).join('\n')}\n`,
  };
}
