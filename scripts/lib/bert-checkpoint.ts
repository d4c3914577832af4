/**
 * BERT masked-LM checkpoints in Hugging Face layout (BertForMaskedLM): `bert.`-prefixed
 * encoder names, `cls.predictions.*` for the head, Linear weights [out, in]. Used by the
 * random test checkpoints and by the trained BERT default model, so both are read by the
 * same loader as a real bert-base-cased folder.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { bertConfigToJson, type BertConfig } from '../../src/core/model/bert-config';
import { writeSafetensors, type TensorToWrite } from '../../src/core/model/safetensors';
import { tensorsToWrite } from './checkpoint-io';

/** HF name of a factlab BERT parameter; `gammaBeta` gives the old TF-converted LayerNorm names. */
export function hfBertName(name: string, gammaBeta = false): string {
  const renamed = gammaBeta ? name.replace(/LayerNorm\.weight$/, 'LayerNorm.gamma').replace(/LayerNorm\.bias$/, 'LayerNorm.beta') : name;
  return renamed.startsWith('cls.') ? renamed : `bert.${renamed}`;
}

/**
 * Writes config.json, model.safetensors, vocab.txt and tokenizer_config.json. The decoder
 * weight is not written: it is tied to the word embeddings (HF re-ties it at load, factlab
 * requires the tie), and leaving it out keeps the file a third smaller for a 4k vocabulary.
 */
export function writeBertModelFolder(dir: string, config: BertConfig, params: Map<string, tf.Tensor>, vocab: string[], options: { lowercase: boolean; metadata: Record<string, string> }): void {
  if (vocab.length !== config.vocabSize) throw new Error(`vocab has ${vocab.length} tokens but the config says ${config.vocabSize}`);
  mkdirSync(dir, { recursive: true });
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of Object.entries(tensorsToWrite(params))) tensors[hfBertName(name)] = t;
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(bertConfigToJson(config), null, 2)}\n`);
  writeFileSync(join(dir, 'model.safetensors'), writeSafetensors(tensors, { format: 'pt', ...options.metadata }));
  writeFileSync(join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
  const tokenizerConfig = {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: options.lowercase,
    model_max_length: config.maxPositions,
    unk_token: '[UNK]',
    sep_token: '[SEP]',
    pad_token: '[PAD]',
    cls_token: '[CLS]',
    mask_token: '[MASK]',
  };
  writeFileSync(join(dir, 'tokenizer_config.json'), `${JSON.stringify(tokenizerConfig, null, 2)}\n`);
}
