/**
 * The engine of a BERT masked-LM checkpoint (the knowledge-neurons paper's own setting):
 * a fact is a cloze prompt with one [MASK] ("The capital of France is [MASK].") and a
 * one-piece answer, and neurons are read and changed at the [MASK] position. It answers the
 * same calls as the GPT-2 engine; what BERT cannot do says why.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError } from './errors';
import { GPT2_ONLY, type Gpt2OnlyMethod } from './gpt2-only';
import { checkTop, describeNeuron, relationFilter, softmax, topIndices, type EditSummary, type EraseReplacement, type ModelInfo, type NeuronInfo, type PredictRequest, type PredictResult, type RelationFilterRequest, type TokenView } from './engine-api';
import type { AttributionCallbacks, AttributionResult, AttributionSettings, NeuronSite } from './knowledge/attribution';
import { attributeMasked, maskPositionOf } from './knowledge/bert-attribution';
import { bertEditOverrides, bertEraseEdit, bertUpdateFactEdit, bertValueVector, maskedAnswerProbs } from './knowledge/bert-interventions';
import { answerPieceId, maskedFactNeurons, type MaskedFactNeuronsResult } from './knowledge/bert-neurons';
import { EditStack } from './knowledge/edit-stack';
import { bertFactModel, type FactModel } from './knowledge/fact-model';
import type { Edit } from './knowledge/edit';
import type { NeuronMethod } from './knowledge/neurons';
import type { AnswerProb } from './knowledge/patching';
import { checkNeuron, REFINE_PRESETS, type Neuron, type RefineSettings } from './knowledge/refine';
import type { CheckpointFiles } from './hub/checkpoint';
import { bertForward } from './model/bert';
import type { BertConfig } from './model/bert-config';
import { bertFromCheckpointFiles } from './model/bert-model';
import { bertParamName, disposeBertWeights, type BertWeights } from './model/bert-weights';
import type { WordPiece } from './tokenizers/wordpiece';

export class BertEngine {
  readonly arch = 'bert' as const;
  /** Mask training is GPT-2 only (gpt2-only.ts says why). */
  readonly subnet = undefined;
  private readonly edits = new EditStack((edits) => bertEditOverrides(this.weights, edits));

  private constructor(
    readonly info: ModelInfo & { config: BertConfig },
    readonly weights: BertWeights,
    readonly tokenizer: WordPiece,
  ) {}

  /** The model as the paper's experiments see it (evaluate.ts, edit-eval.ts). */
  get factModel(): FactModel {
    return bertFactModel(this.weights, this.tokenizer);
  }

  static fromCheckpoint(files: CheckpointFiles): BertEngine {
    const { weights, tokenizer } = bertFromCheckpointFiles(files);
    const { config } = weights;
    let parameters = 0;
    for (const t of weights.params.values()) parameters += t.size;
    const shape = { nLayer: config.nLayer, nInner: config.intermediateSize, nEmbd: config.hiddenSize, nHead: config.nHead, nPositions: config.maxPositions, vocabSize: config.vocabSize };
    const info = { id: files.sourceId, arch: 'bert' as const, objective: 'masked' as const, shape, config, parameters, files: files.files, description: files.metadata.description };
    return new BertEngine(info, weights, tokenizer);
  }

  static whyNot(what: Gpt2OnlyMethod): FactlabError {
    return new FactlabError('unsupported-for-bert', GPT2_ONLY[what]);
  }

  dispose(): void {
    this.edits.dispose();
    disposeBertWeights(this.weights);
  }

  listEdits(): EditSummary[] {
    return this.edits.list();
  }

  applyEdit(edit: Edit): Promise<EditSummary[]> {
    return this.edits.apply(edit);
  }

  revertEdit(id?: string): Promise<EditSummary[]> {
    return this.edits.revert(id);
  }

  tokenView(ids: number[]): TokenView[] {
    return ids.map((id) => ({ id, text: this.tokenizer.tokenText(id) }));
  }

  /** The answer as the one word piece a [MASK] stands for. */
  targetIds(_prompt: string | undefined, target: string): { text: string; ids: number[] } {
    const text = target.trim();
    if (text.length === 0) throw new FactlabError('empty-target', 'The answer is empty: type the word that fills the [MASK], e.g. "Paris".');
    return { text, ids: [answerPieceId(this.tokenizer, text)] };
  }

  /** Framed prompt ids ([CLS] … [MASK] … [SEP]) and the one-piece answer; clear errors for no or several [MASK]s. */
  encodeFact(prompt: string, target: string): { promptIds: number[]; targetIds: number[] } {
    const [promptIds] = this.promptIdsOf([prompt]);
    return { promptIds, targetIds: this.targetIds(prompt, target).ids };
  }

  private promptIdsOf(prompts: string[]): number[][] {
    return prompts.map((prompt) => {
      if (prompt.trim().length === 0) throw new FactlabError('empty-prompt', 'The prompt is empty: type a sentence with one [MASK] where the answer goes, e.g. "The capital of France is [MASK]."');
      const ids = this.tokenizer.encodeForModel(prompt);
      try {
        maskPositionOf(ids, this.tokenizer.maskId);
      } catch (err) {
        throw new FactlabError((err as FactlabError).code, `Prompt ${JSON.stringify(prompt)}: ${(err as Error).message}`);
      }
      if (ids.length > this.info.shape.nPositions) {
        throw new FactlabError('prompt-too-long', `The prompt has ${ids.length} tokens with [CLS] and [SEP] but this model reads at most ${this.info.shape.nPositions}. Shorten it.`);
      }
      return ids;
    });
  }

  async predict(request: PredictRequest): Promise<PredictResult> {
    const top = checkTop(request.top);
    if (request.ids) throw new FactlabError('bad-option', 'A BERT prediction takes a prompt with one [MASK], not token ids.');
    if (request.prompt === undefined) throw new FactlabError('empty-prompt', 'The prompt is empty: type a sentence with one [MASK], e.g. "The capital of France is [MASK]."');
    const [promptIds] = this.promptIdsOf([request.prompt]);
    const target = request.target !== undefined ? this.targetIds(request.prompt, request.target) : undefined;
    const position = maskPositionOf(promptIds, this.tokenizer.maskId);
    const row = tf.tidy(() => bertForward(this.weights, tf.tensor2d([promptIds], [1, promptIds.length], 'int32'), { overrides: this.edits.overrides, logitPositions: [position] }));
    const logits = (await row.data()) as Float32Array;
    row.dispose();
    const probs = softmax(logits);
    const result: PredictResult = {
      model: { id: this.info.id, arch: this.arch },
      tokens: this.tokenView(promptIds),
      top: topIndices(probs, top).map((id) => ({ id, text: this.tokenizer.tokenText(id), prob: probs[id] })),
    };
    if (target) result.target = { text: target.text, ids: target.ids, tokens: this.tokenView(target.ids), prob: probs[target.ids[0]], tokenProbs: [probs[target.ids[0]]] };
    if (request.withLogits) result.logits = logits;
    return result;
  }

  /** Integrated gradients at [MASK] (full path: BERT has no single-position shortcut). */
  async attribute(promptIds: number[], targetIds: number[], settings: Partial<AttributionSettings> = {}, callbacks: AttributionCallbacks = {}): Promise<AttributionResult> {
    if (targetIds.length !== 1) throw new FactlabError('multi-token-target', 'A BERT answer is one word piece at one [MASK].');
    const result = await attributeMasked(this.weights, promptIds, this.tokenizer.maskId, targetIds[0], { ...settings, path: settings.path ?? 'full' }, callbacks);
    const { model: _model, maskPosition: _position, targetId, ...shared } = result;
    return { ...shared, targetIds: [targetId], tokenProbs: [result.pFull] };
  }

  factNeurons(request: { prompts: string[]; target: string; method?: NeuronMethod; attribution?: Partial<AttributionSettings>; refine?: RefineSettings }, callbacks: AttributionCallbacks = {}): Promise<MaskedFactNeuronsResult> {
    if (request.prompts.length === 0) throw new FactlabError('bad-facts', 'Give at least one prompt with one [MASK].');
    const fact = { promptIds: this.promptIdsOf(request.prompts), targetId: this.targetIds(undefined, request.target).ids[0] };
    return maskedFactNeurons(this.weights, this.tokenizer.maskId, fact, { method: request.method, attribution: request.attribution, refine: request.refine ?? REFINE_PRESETS.project }, callbacks);
  }

  relationFilter(request: RelationFilterRequest, callbacks: AttributionCallbacks = {}): Promise<{ kept: Neuron[]; facts: number }> {
    return relationFilter((fact, cb) => this.factNeurons(fact, cb), request, callbacks);
  }

  degeneracy(): Promise<never> {
    return Promise.reject(BertEngine.whyNot('degeneracy'));
  }

  /** P(answer) at [MASK] before and after scaling neurons there, with the active edits in both. */
  async intervene(request: { items: Array<{ prompt: string; target: string }>; neurons: Neuron[]; scale: number; site?: NeuronSite }): Promise<Array<{ before: AnswerProb; after: AnswerProb }>> {
    for (const n of request.neurons) checkNeuron(n, this.info.shape.nLayer, this.info.shape.nInner);
    if (!Number.isFinite(request.scale)) throw new FactlabError('bad-option', `The scale must be a finite number, got ${request.scale}.`);
    const items = request.items.map((i) => {
      const { promptIds, targetIds } = this.encodeFact(i.prompt, i.target);
      return { promptIds, targetId: targetIds[0] };
    });
    const overrides = this.edits.overrides;
    const before = await maskedAnswerProbs(this.weights, this.tokenizer.maskId, items, { overrides });
    const after = await maskedAnswerProbs(this.weights, this.tokenizer.maskId, items, { overrides, neurons: request.neurons, scale: request.scale, site: request.site });
    return before.map((b, i) => ({ before: b, after: after[i] }));
  }

  /** Update a fact through its neurons' value slots (norm-scaled λ1 = 1, λ2 = 8), as an active edit. */
  async editFact(request: { prompt: string; target: string; newTarget: string; neurons: Neuron[] }): Promise<EditSummary[]> {
    const from = this.targetIds(request.prompt, request.target).ids[0];
    const to = this.targetIds(request.prompt, request.newTarget).ids[0];
    if (from === to) throw new FactlabError('bad-target', `"${request.newTarget}" is the same word piece as "${request.target}": choose a different new answer.`);
    const edit = await bertUpdateFactEdit(this.weights, request.neurons, from, to, { id: `update:${request.prompt}→${request.newTarget}` });
    edit.description = `${JSON.stringify(request.target.trim())} → ${JSON.stringify(request.newTarget.trim())} through ${request.neurons.length} neurons`;
    return this.applyEdit(edit);
  }

  /** Erase: the value slots become zero or the [UNK] embedding, as an active edit. */
  async eraseNeurons(request: { neurons: Neuron[]; replacement?: EraseReplacement; label?: string }): Promise<EditSummary[]> {
    const replacement = request.replacement ?? 'zero';
    if (replacement === 'mean-embedding') throw new FactlabError('bad-option', 'For BERT, erase with "zero" or "unk" (the [UNK] embedding); "mean-embedding" is GPT-2\'s stand-in for a missing [UNK].');
    const id = `erase:${request.label ?? request.neurons.map((n) => n.join(':')).join(',')}`;
    const edit = await bertEraseEdit(this.weights, request.neurons, replacement === 'unk' ? { kind: 'unk', unkId: this.tokenizer.unkId } : { kind: 'zero' }, id);
    if (request.label) edit.description = `erase ${request.label}: ${edit.description}`;
    return this.applyEdit(edit);
  }

  /** What a neuron writes, projected on the (tied) word embeddings. */
  async neuronInfo(neuron: Neuron, top = 10): Promise<NeuronInfo> {
    const value = this.edits.slotValue(bertParamName.ffnOut(neuron[0]), neuron[1]) ?? (await bertValueVector(this.weights, neuron));
    const projected = tf.tidy(() => tf.matMul(tf.tensor2d(value, [1, value.length]), this.weights.params.get(bertParamName.wordEmbeddings)!, false, true));
    const logits = (await projected.data()) as Float32Array;
    projected.dispose();
    return describeNeuron(neuron, value, logits, (id) => this.tokenizer.tokenText(id), top);
  }
}
