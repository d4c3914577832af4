/**
 * The engine holds one loaded model and runs every operation on it. The worker exposes it
 * to the page; the CLI and the tests call it directly in Node. Results are plain JSON.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError } from './errors';
import { attribute, type AttributionCallbacks, type AttributionResult, type AttributionSettings } from './knowledge/attribution';
import { loadCheckpointFiles, type CheckpointFiles, type LoadOptions } from './hub/checkpoint';
import type { ModelSource } from './hub/source';
import { parseGpt2Config, type Gpt2Config } from './model/config';
import { forward } from './model/gpt2';
import { disposeWeights, gpt2WeightsFromTensors, type Gpt2Weights } from './model/weights';
import { ByteLevelBpe } from './tokenizers/bpe';
import type { Tokenizer } from './tokenizers/types';

export interface ModelInfo {
  /** Stable id of the source (cache key, permalink), e.g. `hub:openai-community/gpt2@abc123`. */
  id: string;
  arch: Gpt2Config['arch'];
  config: Gpt2Config;
  parameters: number;
  files: Array<{ name: string; bytes: number }>;
  /** Free-form description from the checkpoint metadata or model card, if any. */
  description?: string;
}

export interface TokenView {
  id: number;
  text: string;
}

export interface PredictRequest {
  prompt?: string;
  /** Token ids instead of a prompt. */
  ids?: number[];
  /** Continuation to score; a leading space is added when neither side has one (GPT-2 words start with a space). */
  target?: string;
  /** How many top next tokens to return (default 10). */
  top?: number;
  /** Also return the last position's full logits. */
  withLogits?: boolean;
}

export interface TargetScore {
  text: string;
  ids: number[];
  tokens: TokenView[];
  /** Product of the teacher-forced token probabilities. */
  prob: number;
  tokenProbs: number[];
}

export interface PredictResult {
  model: { id: string; arch: string };
  tokens: TokenView[];
  top: Array<TokenView & { prob: number }>;
  target?: TargetScore;
  logits?: Float32Array;
}

export class Engine {
  private constructor(
    readonly info: ModelInfo,
    readonly weights: Gpt2Weights,
    readonly tokenizer: Tokenizer,
  ) {}

  static async load(source: ModelSource, options: LoadOptions = {}): Promise<Engine> {
    return Engine.fromCheckpoint(await loadCheckpointFiles(source, options));
  }

  static fromCheckpoint(files: CheckpointFiles): Engine {
    const config = parseGpt2Config(files.configJson);
    const tokenizer = makeTokenizer(files);
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new FactlabError('tokenizer-mismatch', `The tokenizer has ${tokenizer.vocabSize} tokens but the model's embedding has ${config.vocabSize} rows; they do not belong together.`);
    }
    const weights = gpt2WeightsFromTensors(config, files.tensors);
    let parameters = 0;
    for (const t of weights.params.values()) parameters += t.size;
    const info: ModelInfo = { id: files.sourceId, arch: config.arch, config, parameters, files: files.files, description: files.metadata.description };
    return new Engine(info, weights, tokenizer);
  }

  dispose(): void {
    disposeWeights(this.weights);
  }

  tokenView(ids: number[]): TokenView[] {
    return ids.map((id) => ({ id, text: this.tokenizer.tokenText(id) }));
  }

  /** Prompt ids, with the checks every operation needs (non-empty, in vocabulary, fits the context). */
  promptIds(request: { prompt?: string; ids?: number[] }, extraPositions = 0): number[] {
    const { config } = this.info;
    let ids: number[];
    if (request.ids) {
      ids = request.ids;
      const bad = ids.find((id) => !Number.isInteger(id) || id < 0 || id >= config.vocabSize);
      if (bad !== undefined) throw new FactlabError('bad-token-id', `Token id ${bad} is outside the vocabulary (0…${config.vocabSize - 1}).`);
    } else {
      if (request.prompt === undefined || request.prompt.length === 0) throw new FactlabError('empty-prompt', 'The prompt is empty: type the beginning of a sentence, e.g. "The capital of France is".');
      ids = this.tokenizer.encode(request.prompt);
    }
    if (ids.length === 0) throw new FactlabError('empty-prompt', 'The prompt has no tokens.');
    if (ids.length + extraPositions > config.nPositions) {
      throw new FactlabError('prompt-too-long', `The prompt${extraPositions ? ' plus target' : ''} has ${ids.length + extraPositions} tokens but this model reads at most ${config.nPositions}. Shorten it.`);
    }
    return ids;
  }

  /** Target ids as the model would continue the prompt (leading space when needed). */
  targetIds(prompt: string | undefined, target: string): { text: string; ids: number[] } {
    if (target.length === 0) throw new FactlabError('empty-target', 'The target is empty: type the expected continuation, e.g. " Paris".');
    const needsSpace = !/^\s/.test(target) && !(prompt !== undefined && /\s$/.test(prompt));
    const text = needsSpace ? ` ${target}` : target;
    const ids = this.tokenizer.encode(text);
    if (ids.length === 0) throw new FactlabError('empty-target', 'The target has no tokens.');
    return { text, ids };
  }

  /**
   * Prompt and target ids for a fact query. The target must be what the tokenizer produces
   * when the text continues: otherwise the probability scored would be of a tokenization
   * the model never sees (e.g. a prompt ending in a space followed by "Paris").
   */
  encodeFact(prompt: string, target: string): { promptIds: number[]; targetIds: number[] } {
    const { text, ids: targetIds } = this.targetIds(prompt, target);
    const promptIds = this.promptIds({ prompt }, targetIds.length - 1);
    const joint = this.tokenizer.encode(prompt + text);
    const expected = [...promptIds, ...targetIds];
    if (joint.length !== expected.length || joint.some((id, i) => id !== expected[i])) {
      throw new FactlabError('bad-target', `The target ${JSON.stringify(text)} is not how this tokenizer continues ${JSON.stringify(prompt)}: the tokens merge across the boundary. Remove trailing spaces from the prompt and start the target with a space, e.g. " Paris".`);
    }
    return { promptIds, targetIds };
  }

  attribute(promptIds: number[], targetIds: number[], settings: Partial<AttributionSettings> = {}, callbacks: AttributionCallbacks = {}): Promise<AttributionResult> {
    return attribute(this.weights, promptIds, targetIds, settings, callbacks);
  }

  async predict(request: PredictRequest): Promise<PredictResult> {
    const top = request.top ?? 10;
    if (!Number.isInteger(top) || top < 1 || top > 1000) throw new FactlabError('bad-option', `top must be an integer from 1 to 1000, got ${request.top}.`);
    const target = request.target !== undefined ? this.targetIds(request.prompt, request.target) : undefined;
    const promptIds = this.promptIds(request, target ? target.ids.length - 1 : 0);
    // One teacher-forced pass scores the target and gives the next-token distribution.
    const sequence = target ? [...promptIds, ...target.ids.slice(0, -1)] : promptIds;
    const rows = tf.tidy(() => {
      const logits = forward(this.weights, tf.tensor2d([sequence], [1, sequence.length], 'int32'));
      const rowCount = sequence.length - promptIds.length + 1;
      const vocab = this.info.config.vocabSize;
      return logits.slice([0, promptIds.length - 1, 0], [1, rowCount, vocab]).reshape([rowCount, vocab]) as tf.Tensor2D;
    });
    const logitsRows = (await rows.array()) as number[][];
    rows.dispose();
    const lastPromptLogits = Float32Array.from(logitsRows[0]);
    const probs = softmax(lastPromptLogits);
    const order = topIndices(probs, top);
    const result: PredictResult = {
      model: { id: this.info.id, arch: this.info.arch },
      tokens: this.tokenView(promptIds),
      top: order.map((id) => ({ id, text: this.tokenizer.tokenText(id), prob: probs[id] })),
    };
    if (target) {
      const tokenProbs = target.ids.map((id, j) => softmax(Float32Array.from(logitsRows[j]))[id]);
      result.target = { text: target.text, ids: target.ids, tokens: this.tokenView(target.ids), prob: tokenProbs.reduce((a, b) => a * b, 1), tokenProbs };
    }
    if (request.withLogits) result.logits = lastPromptLogits;
    return result;
  }
}

function makeTokenizer(files: CheckpointFiles): Tokenizer {
  const { vocabJson, mergesText, tokenizerJson } = files.tokenizer;
  if (tokenizerJson) return ByteLevelBpe.fromTokenizerJson(tokenizerJson);
  if (vocabJson && mergesText) return ByteLevelBpe.fromVocabAndMerges(vocabJson, mergesText);
  throw new FactlabError('missing-tokenizer', 'The checkpoint has no GPT-2 tokenizer: it needs tokenizer.json, or vocab.json with merges.txt.');
}

/** Float64 softmax, so that tiny probabilities of large vocabularies stay exact. */
export function softmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const out = new Float64Array(logits.length);
  let total = 0;
  for (let i = 0; i < logits.length; i++) total += out[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < out.length; i++) out[i] /= total;
  return out;
}

export function topIndices(values: ArrayLike<number>, k: number): number[] {
  const picked: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (picked.length < k) {
      picked.push(i);
      if (picked.length === k) picked.sort((a, b) => values[b] - values[a]);
    } else if (values[i] > values[picked[k - 1]]) {
      let j = k - 1;
      while (j > 0 && values[picked[j - 1]] < values[i]) j--;
      picked.splice(j, 0, i);
      picked.pop();
    }
  }
  return picked.length < k ? picked.sort((a, b) => values[b] - values[a]) : picked;
}
