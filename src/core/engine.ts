/**
 * The engine holds one loaded model and runs every operation on it. The worker exposes it
 * to the page; the CLI and the tests call it directly in Node. Results are plain JSON.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError } from './errors';
import { attribute, type AttributionCallbacks, type AttributionResult, type AttributionSettings, type NeuronSite } from './knowledge/attribution';
import { disposeOverrides, editOverrides, eraseEdit, filterByRelationFrequency, updateFactEdit, valueParam, valueVector, type Edit } from './knowledge/edit';
import { factNeurons, type FactNeuronsResult, type NeuronMethod } from './knowledge/neurons';
import { answerProbs, scaleNeuronsHooks, type AnswerProb } from './knowledge/patching';
import { checkNeuron, REFINE_PRESETS, type Neuron, type RefineSettings } from './knowledge/refine';
import { loadCheckpointFiles, type CheckpointFiles, type LoadOptions } from './hub/checkpoint';
import type { ModelSource } from './hub/source';
import { parseGpt2Config, type Gpt2Config } from './model/config';
import { forward } from './model/gpt2';
import { disposeWeights, gpt2WeightsFromTensors, type Gpt2Weights } from './model/weights';
import { findDegenerateNeurons, type DknCallbacks, type DknResult } from './degeneracy/dkn';
import type { DknOptions } from './degeneracy/settings';
import { SubnetSession } from './subnetwork/session';
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

export interface EditSummary {
  id: string;
  kind: Edit['kind'];
  description: string;
  slots: Array<{ param: string; row: number }>;
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
  /** The knowledge-critical subnetwork mask; while it is removed, every forward pass runs on the remaining model. */
  readonly subnet: SubnetSession;

  private constructor(
    readonly info: ModelInfo,
    readonly weights: Gpt2Weights,
    readonly tokenizer: Tokenizer,
  ) {
    this.subnet = new SubnetSession(weights, tokenizer, info.id);
  }

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

  private edits: Edit[] = [];
  private overrides: Record<string, tf.Tensor> = {};
  dispose(): void {
    this.subnet.dispose();
    disposeOverrides(this.overrides);
    disposeWeights(this.weights);
  }

  /** Active weight edits, oldest first. Every prediction and intervention runs with them. */
  listEdits(): EditSummary[] {
    return this.edits.map(({ id, kind, description, slots }) => ({ id, kind, description, slots: slots.map((s) => ({ param: s.param, row: s.row })) }));
  }

  private async setEdits(edits: Edit[]): Promise<EditSummary[]> {
    const next = await editOverrides(this.weights, edits);
    disposeOverrides(this.overrides);
    this.overrides = next;
    this.edits = edits;
    return this.listEdits();
  }

  /** Applies an edit (replacing an earlier one with the same id). */
  applyEdit(edit: Edit): Promise<EditSummary[]> {
    return this.setEdits([...this.edits.filter((e) => e.id !== edit.id), edit]);
  }

  /** Reverts one edit, or all of them: the original slots come back exactly (edits never touch the weights). */
  revertEdit(id?: string): Promise<EditSummary[]> {
    if (id !== undefined && !this.edits.some((e) => e.id === id)) throw new FactlabError('bad-edit', `There is no active edit "${id}".`);
    return this.setEdits(id === undefined ? [] : this.edits.filter((e) => e.id !== id));
  }

  /** Update a fact through its neurons' value slots (norm-scaled λ1 = 1, λ2 = 8), as an active edit. */
  async editFact(request: { prompt: string; target: string; newTarget: string; neurons: Neuron[] }): Promise<EditSummary[]> {
    const from = this.encodeFact(request.prompt, request.target).targetIds[0];
    const to = this.encodeFact(request.prompt, request.newTarget).targetIds[0];
    if (from === to) throw new FactlabError('bad-target', `"${request.newTarget}" starts with the same token as "${request.target}": choose a new object that differs in its first token.`);
    const edit = await updateFactEdit(this.weights, request.neurons, from, to, { id: `update:${request.prompt}→${request.newTarget}` });
    edit.description = `${JSON.stringify(request.target.trim())} → ${JSON.stringify(request.newTarget.trim())} through ${request.neurons.length} neurons`;
    return this.applyEdit(edit);
  }

  /** Erase: zero (or mean-embedding) the value slots of the given neurons, as an active edit. */
  async eraseNeurons(request: { neurons: Neuron[]; replacement?: 'zero' | 'mean-embedding'; label?: string }): Promise<EditSummary[]> {
    const edit = await eraseEdit(this.weights, request.neurons, request.replacement ?? 'zero', `erase:${request.label ?? request.neurons.map((n) => n.join(':')).join(',')}`);
    if (request.label) edit.description = `erase ${request.label}: ${edit.description}`;
    return this.applyEdit(edit);
  }

  /** Knowledge neurons of one fact from its paraphrase prompts. */
  factNeurons(request: { prompts: string[]; target: string; method?: NeuronMethod; attribution?: Partial<AttributionSettings>; refine?: RefineSettings }, callbacks: AttributionCallbacks = {}): Promise<FactNeuronsResult> {
    if (request.prompts.length === 0) throw new FactlabError('bad-facts', 'Give at least one prompt.');
    const items = request.prompts.map((p) => this.encodeFact(p, request.target));
    return factNeurons(this.weights, { promptIds: items.map((i) => i.promptIds), targetIds: items[0].targetIds }, { method: request.method, attribution: request.attribution, refine: request.refine ?? REFINE_PRESETS.project }, callbacks);
  }

  /**
   * The official update filter (D5): of `neurons`, keep those that are knowledge neurons of at
   * most 10% of the relation's facts, whose neurons are found here with the same settings.
   */
  async relationFilter(
    request: { neurons: Neuron[]; relationFacts: Array<{ prompts: string[]; target: string }>; attribution?: Partial<AttributionSettings>; refine?: RefineSettings },
    callbacks: AttributionCallbacks = {},
  ): Promise<{ kept: Neuron[]; facts: number }> {
    if (request.relationFacts.length === 0) throw new FactlabError('bad-facts', 'The relation filter needs the relation\'s facts: the library has none for this relation.');
    const sets: Neuron[][] = [];
    for (const [k, fact] of request.relationFacts.entries()) {
      const found = await this.factNeurons({ ...fact, attribution: request.attribution, refine: request.refine }, {
        signal: callbacks.signal,
        onProgress: (p) => callbacks.onProgress?.({ fraction: (k + p.fraction) / request.relationFacts.length, stage: `fact ${k + 1} of ${request.relationFacts.length}: ${p.stage}` }),
      });
      sets.push(found.refined.neurons.map((n): Neuron => [n.layer, n.index]));
    }
    return { kept: filterByRelationFrequency(request.neurons, sets), facts: sets.length };
  }

  /** Degenerate knowledge neurons of one fact from its prompts (methods.md §4): clusters, filter, subset drops, controls. */
  degeneracy(request: { prompts: string[]; target: string; options?: DknOptions }, callbacks: DknCallbacks = {}): Promise<DknResult> {
    if (request.prompts.length === 0) throw new FactlabError('bad-facts', 'Give at least one prompt.');
    const items = request.prompts.map((p) => this.encodeFact(p, request.target));
    return findDegenerateNeurons(this.weights, { promptIds: items.map((i) => i.promptIds), targetIds: items[0].targetIds }, request.options ?? {}, callbacks);
  }

  /** Probabilities before and after scaling neurons (×0 suppress, ×2 amplify), with the active edits in both. */
  async intervene(request: { items: Array<{ prompt: string; target: string }>; neurons: Neuron[]; scale: number; site?: NeuronSite }): Promise<Array<{ before: AnswerProb; after: AnswerProb }>> {
    for (const n of request.neurons) checkNeuron(n, this.info.config.nLayer, this.info.config.nInner);
    if (!Number.isFinite(request.scale)) throw new FactlabError('bad-option', `The scale must be a finite number, got ${request.scale}.`);
    const items = request.items.map((i) => this.encodeFact(i.prompt, i.target));
    const site = request.site ?? 'post';
    const hooksFor = (scale: number) => (positions: number[][]) => (request.neurons.length ? scaleNeuronsHooks(request.neurons, scale, positions, site) : undefined);
    const masks = this.subnet.forwardMasks();
    const before = await answerProbs(this.weights, items, { overrides: this.overrides, masks });
    const after = await answerProbs(this.weights, items, { overrides: this.overrides, masks, hooksFor: hooksFor(request.scale) });
    return before.map((b, i) => ({ before: b, after: after[i] }));
  }

  /** What a neuron writes: its value vector projected on the vocabulary (tokens it promotes and suppresses). */
  async neuronInfo(neuron: Neuron, top = 10): Promise<{ neuron: Neuron; valueNorm: number; promotes: Array<TokenView & { logit: number }>; suppresses: Array<TokenView & { logit: number }> }> {
    let value = await valueVector(this.weights, neuron);
    // What the neuron writes now: an active edit of its value slot wins (the latest one).
    for (const edit of this.edits) for (const slot of edit.slots) if (slot.param === valueParam(neuron[0]) && slot.row === neuron[1]) value = slot.updated;
    const projected = tf.tidy(() => tf.matMul(tf.tensor2d(value, [1, value.length]), this.weights.unembedding ?? tf.transpose(this.weights.params.get('wte.weight')!)));
    const logits = (await projected.data()) as Float32Array;
    projected.dispose();
    const view = (ids: number[]) => ids.map((id) => ({ id, text: this.tokenizer.tokenText(id), logit: logits[id] }));
    return {
      neuron,
      valueNorm: Math.hypot(...value),
      promotes: view(topIndices(logits, top)),
      suppresses: view(topIndices(logits.map((x) => -x), top)),
    };
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
      const logits = forward(this.weights, tf.tensor2d([sequence], [1, sequence.length], 'int32'), { overrides: this.overrides, masks: this.subnet.forwardMasks() });
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
