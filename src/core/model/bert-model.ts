/**
 * A BERT masked-LM from checkpoint files (hub/checkpoint.ts): config, weights and the
 * WordPiece tokenizer, checked against each other. `checkpointArchitecture` tells the
 * caller from config.json which model layer a checkpoint belongs to.
 */
import { FactlabError, previewValue } from '../errors';
import type { CheckpointFiles } from '../hub/checkpoint';
import { vocabTxtLines, WordPiece } from '../tokenizers/wordpiece';
import { parseBertConfig } from './bert-config';
import { bertWeightsFromTensors, type BertWeights } from './bert-weights';

export type Architecture = 'gpt2' | 'bert';

/** GPT-2 when config.json says so (or says nothing, as early GPT-2 exports), BERT for model_type "bert". */
export function checkpointArchitecture(configJson: unknown): Architecture {
  const modelType = (configJson as Record<string, unknown> | null)?.model_type;
  if (modelType === undefined || modelType === 'gpt2') return 'gpt2';
  if (modelType === 'bert') return 'bert';
  throw new FactlabError('unsupported-model', `config.json: model_type ${previewValue(modelType)} is not supported; factlab runs "gpt2" and "bert" checkpoints.`);
}

export interface BertModel {
  weights: BertWeights;
  tokenizer: WordPiece;
}

/**
 * Casing comes from tokenizer_config.json's do_lower_case; without it, from the vocabulary
 * (a cased vocabulary has upper-case word pieces, an uncased one has none).
 */
function lowercaseOf(files: CheckpointFiles, vocab: string[]): boolean {
  const text = files.tokenizer.tokenizerConfigJson;
  if (text) {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new FactlabError('bad-tokenizer', `tokenizer_config.json is not valid JSON (${(err as Error).message}).`);
    }
    const flag = (json as Record<string, unknown> | null)?.do_lower_case;
    if (typeof flag === 'boolean') return flag;
  }
  return !vocab.some((token) => !/^\[.*\]$/.test(token) && /\p{Lu}/u.test(token));
}

export function bertFromCheckpointFiles(files: CheckpointFiles): BertModel {
  const config = parseBertConfig(files.configJson);
  const { vocabTxt, tokenizerJson } = files.tokenizer;
  let tokenizer: WordPiece;
  if (vocabTxt !== undefined) {
    const vocab = vocabTxtLines(vocabTxt);
    tokenizer = new WordPiece(vocab, { lowercase: lowercaseOf(files, vocab) });
  } else if (tokenizerJson !== undefined) {
    tokenizer = WordPiece.fromTokenizerJson(tokenizerJson);
  } else {
    throw new FactlabError('missing-tokenizer', 'A BERT checkpoint needs vocab.txt or tokenizer.json next to config.json.');
  }
  if (tokenizer.vocabSize !== config.vocabSize) {
    throw new FactlabError(
      'vocab-mismatch',
      `The tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size (the embedding rows) is ${config.vocabSize}. The vocabulary file does not belong to these weights.`,
    );
  }
  return { weights: bertWeightsFromTensors(config, files.tensors), tokenizer };
}
