/**
 * The engine of a GPT-2 checkpoint: it holds the loaded model and runs every operation on
 * it (engine.ts says what all engines share). The worker exposes it to the page; the CLI
 * and the tests call it directly in Node. Results are plain JSON.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError } from './errors';
import { attribute, type AttributionCallbacks, type AttributionResult, type AttributionSettings, type NeuronSite } from './knowledge/attribution';
import { checkTop, relationFilter, softmax, topIndices, describeNeuron, type EditSummary, type EraseReplacement, type ModelInfo, type NeuronInfo, type PredictRequest, type PredictResult, type RelationFilterRequest, type TokenView } from './engine-api';
import { editOverrides, eraseEdit, updateFactEdit, valueParam, valueVector, type Edit } from './knowledge/edit';
import { EditStack } from './knowledge/edit-stack';
import { gpt2FactModel, type FactModel } from './knowledge/fact-model';
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

export class Gpt2Engine {
  readonly arch = 'gpt2' as const;
  /** The knowledge-critical subnetwork mask; while it is removed, every forward pass runs on the remaining model. */
  readonly subnet: SubnetSession;

  private constructor(
    readonly info: ModelInfo & { config: Gpt2Config },
    readonly weights: Gpt2Weights,
    readonly tokenizer: Tokenizer,
  ) {
    this.subnet = new SubnetSession(weights, tokenizer, info.id);
  }

  /** The model as the paper's experiments see it (evaluate.ts, edit-eval.ts). */
  get factModel(): FactModel {
    return gpt2FactModel(this.weights, this.tokenizer);
  }

  static async load(source: ModelSource, options: LoadOptions = {}): Promise<Gpt2Engine> {
    return Gpt2Engine.fromCheckpoint(await loadCheckpointFiles(source, options));
  }

  static fromCheckpoint(files: CheckpointFiles): Gpt2Engine {
    const config = parseGpt2Config(files.configJson);
    const tokenizer = makeTokenizer(files);
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new FactlabError('tokenizer-mismatch', `The tokenizer has ${tokenizer.vocabSize} tokens but the model's embedding has ${config.vocabSize} rows; they do not belong together.`);
    }
    const weights = gpt2WeightsFromTensors(config, files.tensors);
    let parameters = 0;
    for (const t of weights.params.values()) parameters += t.size;
    const shape = { nLayer: config.nLayer, nInner: config.nInner, nEmbd: config.nEmbd, nHead: config.nHead, nPositions: config.nPositions, vocabSize: config.vocabSize };
    const info: ModelInfo & { config: Gpt2Config } = { id: files.sourceId, arch: 'gpt2', objective: 'causal', shape, config, parameters, files: files.files, description: files.metadata.description };
    return new Gpt2Engine(info, weights, tokenizer);
  }

  private readonly edits = new EditStack((edits) => editOverrides(this.weights, edits));
  private get overrides(): Record<string, tf.Tensor> {
    return this.edits.overrides;
  }

  dispose(): void {
    this.subnet.dispose();
    this.edits.dispose();
    disposeWeights(this.weights);
  }

  /** Active weight edits, oldest first. Every prediction and intervention runs with them. */
  listEdits(): EditSummary[] {
    return this.edits.list();
  }

  /** Applies an edit (replacing an earlier one with the same id). */
  applyEdit(edit: Edit): Promise<EditSummary[]> {
    return this.edits.apply(edit);
  }

  revertEdit(id?: string): Promise<EditSummary[]> {
    return this.edits.revert(id);
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
  async eraseNeurons(request: { neurons: Neuron[]; replacement?: EraseReplacement; label?: string }): Promise<EditSummary[]> {
    if (request.replacement === 'unk') throw new FactlabError('bad-option', 'GPT-2 has no [UNK] token to erase with: use "zero" or "mean-embedding".');
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

  relationFilter(request: RelationFilterRequest, callbacks: AttributionCallbacks = {}): Promise<{ kept: Neuron[]; facts: number }> {
    return relationFilter((fact, cb) => this.factNeurons(fact, cb), request, callbacks);
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
  async neuronInfo(neuron: Neuron, top = 10): Promise<NeuronInfo> {
    // What the neuron writes now: an active edit of its value slot wins.
    const value = this.edits.slotValue(valueParam(neuron[0]), neuron[1]) ?? (await valueVector(this.weights, neuron));
    const projected = tf.tidy(() => tf.matMul(tf.tensor2d(value, [1, value.length]), this.weights.unembedding ?? tf.transpose(this.weights.params.get('wte.weight')!)));
    const logits = (await projected.data()) as Float32Array;
    projected.dispose();
    return describeNeuron(neuron, value, logits, (id) => this.tokenizer.tokenText(id), top);
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
    const top = checkTop(request.top);
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
