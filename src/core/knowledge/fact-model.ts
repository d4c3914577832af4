/**
 * What the paper's experiments (evaluate.ts, edit-eval.ts) need from a model, for GPT-2
 * (the answer continues the prompt) and for BERT (the answer fills the one [MASK]). The
 * experiments are written once against this; each architecture says how it scores, finds
 * neurons and edits value slots.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError } from '../errors';
import { promptsFor, targetFor } from '../facts/prompts';
import type { Fact, PromptSplit, Relation } from '../facts/types';
import { bertForward } from '../model/bert';
import type { BertWeights } from '../model/bert-weights';
import { forward } from '../model/gpt2';
import type { Gpt2Weights } from '../model/weights';
import type { Tokenizer } from '../tokenizers/types';
import type { WordPiece } from '../tokenizers/wordpiece';
import type { AttributionCallbacks, AttributionSettings, NeuronSite } from './attribution';
import { maskPositionOf } from './bert-attribution';
import { bertEditOverrides, bertEraseEdit, bertUpdateFactEdit, maskedAnswerProbs } from './bert-interventions';
import { answerPieceId, maskedFactInputs, maskedFactNeurons } from './bert-neurons';
import { editOverrides, eraseEdit, updateFactEdit, type Edit } from './edit';
import { factNeurons, type FactNeuronsResult, type NeuronMethod } from './neurons';
import { answerProbs, answerProbsWithNeurons, type AnswerProb } from './patching';
import type { Neuron, RefineSettings } from './refine';

export interface FactItem {
  promptIds: number[];
  targetIds: number[];
}

export interface FactModel {
  nLayer: number;
  objective: 'causal' | 'masked';
  /**
   * A fact's prompts and answer as token ids. Throws a FactlabError when the model cannot
   * pose the fact (e.g. a masked model and an answer of several word pieces).
   */
  items(fact: Fact, relation: Relation | undefined, split?: PromptSplit): FactItem[];
  /** The token an object is predicted by (GPT-2: its first token after a space; BERT: its one piece). */
  answerToken(object: string): number;
  answerProbs(items: FactItem[], options?: { neurons?: Neuron[]; scale?: number; site?: NeuronSite; overrides?: Record<string, tf.Tensor> }): Promise<AnswerProb[]>;
  /** Logits at the position that predicts the (first) answer token. */
  answerLogits(promptIds: number[], overrides?: Record<string, tf.Tensor>): Promise<Float32Array>;
  factNeurons(items: FactItem[], options: { method?: NeuronMethod; attribution?: Partial<AttributionSettings>; refine: RefineSettings }, callbacks?: AttributionCallbacks): Promise<FactNeuronsResult>;
  updateEdit(neurons: Neuron[], fromToken: number, toToken: number, id: string): Promise<Edit>;
  eraseEdit(neurons: Neuron[], replacement: 'zero' | 'unk' | 'mean-embedding', id: string): Promise<Edit>;
  editOverrides(edits: Edit[]): Record<string, tf.Tensor>;
}

async function readRow(logits: tf.Tensor): Promise<Float32Array> {
  const values = (await logits.data()) as Float32Array;
  logits.dispose();
  return values;
}

export function gpt2FactModel(weights: Gpt2Weights, tokenizer: Tokenizer): FactModel {
  return {
    nLayer: weights.config.nLayer,
    objective: 'causal',
    items(fact, relation, split = 'all') {
      const targetIds = tokenizer.encode(targetFor(fact));
      return promptsFor(fact, relation, { split }).map((p) => ({ promptIds: tokenizer.encode(p), targetIds }));
    },
    answerToken: (object) => tokenizer.encode(` ${object.trim()}`)[0],
    answerProbs(items, options = {}) {
      if (options.neurons?.length) return answerProbsWithNeurons(weights, items, options.neurons, options.scale ?? 0, options.site);
      return answerProbs(weights, items, { overrides: options.overrides });
    },
    answerLogits: (promptIds, overrides) => readRow(tf.tidy(() => forward(weights, tf.tensor2d([promptIds], [1, promptIds.length], 'int32'), { overrides, logitPositions: [-1] }))),
    factNeurons: (items, options, callbacks) => factNeurons(weights, { promptIds: items.map((i) => i.promptIds), targetIds: items[0].targetIds }, options, callbacks),
    updateEdit: (neurons, from, to, id) => updateFactEdit(weights, neurons, from, to, { id }),
    eraseEdit(neurons, replacement, id) {
      if (replacement === 'unk') throw new FactlabError('bad-option', 'GPT-2 has no [UNK] token to erase with: use zero or mean-embedding.');
      return eraseEdit(weights, neurons, replacement, id);
    },
    editOverrides: (edits) => editOverrides(weights, edits),
  };
}

export function bertFactModel(weights: BertWeights, tokenizer: WordPiece): FactModel {
  const maskId = tokenizer.maskId;
  const masked = (items: FactItem[]) => items.map((i) => ({ promptIds: i.promptIds, targetId: i.targetIds[0] }));
  return {
    nLayer: weights.config.nLayer,
    objective: 'masked',
    items(fact, relation, split = 'all') {
      const { promptIds, targetId } = maskedFactInputs(tokenizer, promptsFor(fact, relation, { split, masked: true }), targetFor(fact, { masked: true }));
      return promptIds.map((ids) => ({ promptIds: ids, targetIds: [targetId] }));
    },
    answerToken: (object) => answerPieceId(tokenizer, object.trim()),
    answerProbs: (items, options = {}) => maskedAnswerProbs(weights, maskId, masked(items), options),
    answerLogits: (promptIds, overrides) => readRow(tf.tidy(() => bertForward(weights, tf.tensor2d([promptIds], [1, promptIds.length], 'int32'), { overrides, logitPositions: [maskPositionOf(promptIds, maskId)] }))),
    factNeurons: (items, options, callbacks) => maskedFactNeurons(weights, maskId, { promptIds: items.map((i) => i.promptIds), targetId: items[0].targetIds[0] }, options, callbacks),
    updateEdit: (neurons, from, to, id) => bertUpdateFactEdit(weights, neurons, from, to, { id }),
    eraseEdit(neurons, replacement, id) {
      if (replacement === 'mean-embedding') throw new FactlabError('bad-option', 'For BERT, erase with zero or unk (the [UNK] embedding); mean-embedding is GPT-2\'s stand-in for a missing [UNK].');
      return bertEraseEdit(weights, neurons, replacement === 'unk' ? { kind: 'unk', unkId: tokenizer.unkId } : { kind: 'zero' }, id);
    },
    editOverrides: (edits) => bertEditOverrides(weights, edits),
  };
}
