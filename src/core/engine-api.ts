/**
 * What every engine (GPT-2, BERT) offers the worker and the CLI: the shapes of its answers
 * and the pieces of work that do not depend on the architecture.
 */
import type { BertConfig } from './model/bert-config';
import type { Gpt2Config } from './model/config';
import { FactlabError } from './errors';
import type { AttributionCallbacks, AttributionSettings } from './knowledge/attribution';
import { filterByRelationFrequency } from './knowledge/edit';
import type { FactNeuronsResult } from './knowledge/neurons';
import type { Neuron, RefineSettings } from './knowledge/refine';

export type { EditSummary } from './knowledge/edit-stack';

/** The sizes every view needs, whatever the architecture. */
export interface ModelShape {
  nLayer: number;
  /** FFN neurons per layer. */
  nInner: number;
  nEmbd: number;
  nHead: number;
  nPositions: number;
  vocabSize: number;
}

export interface ModelInfo {
  /** Stable id of the source (cache key, permalink), e.g. `hub:openai-community/gpt2@abc123`. */
  id: string;
  arch: 'gpt2' | 'bert';
  /** Causal models continue a prompt; masked models fill the one [MASK] of a prompt. */
  objective: 'causal' | 'masked';
  shape: ModelShape;
  config: Gpt2Config | BertConfig;
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
  /** GPT-2: the text to continue. BERT: a sentence with one [MASK]. */
  prompt?: string;
  /** Token ids instead of a prompt. */
  ids?: number[];
  /** Answer to score: GPT-2's continuation (a leading space is added when neither side has one), BERT's one-piece word at [MASK]. */
  target?: string;
  /** How many top tokens to return (default 10). */
  top?: number;
  /** Also return the predicting position's full logits. */
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

/** What a neuron writes: its value vector projected on the vocabulary. */
export interface NeuronInfo {
  neuron: Neuron;
  valueNorm: number;
  promotes: Array<TokenView & { logit: number }>;
  suppresses: Array<TokenView & { logit: number }>;
}

export function describeNeuron(neuron: Neuron, value: Float32Array, vocabularyLogits: Float32Array, tokenText: (id: number) => string, top: number): NeuronInfo {
  const view = (ids: number[]) => ids.map((id) => ({ id, text: tokenText(id), logit: vocabularyLogits[id] }));
  return {
    neuron,
    valueNorm: Math.hypot(...value),
    promotes: view(topIndices(vocabularyLogits, top)),
    suppresses: view(topIndices(vocabularyLogits.map((x) => -x), top)),
  };
}

/** What erased value slots become: zero (paper v2), the [UNK] embedding (BERT, the paper's earlier version), or the mean token embedding (GPT-2 has no [UNK]). */
export type EraseReplacement = 'zero' | 'unk' | 'mean-embedding';

export function checkTop(top: number | undefined): number {
  const value = top ?? 10;
  if (!Number.isInteger(value) || value < 1 || value > 1000) throw new FactlabError('bad-option', `top must be an integer from 1 to 1000, got ${top}.`);
  return value;
}

export interface RelationFilterRequest {
  neurons: Neuron[];
  relationFacts: Array<{ prompts: string[]; target: string }>;
  attribution?: Partial<AttributionSettings>;
  refine?: RefineSettings;
}

/**
 * The official update filter (D5): of `neurons`, keep those that are knowledge neurons of at
 * most 10% of the relation's facts, whose neurons are found with the same settings.
 */
export async function relationFilter(
  findNeurons: (fact: { prompts: string[]; target: string; attribution?: Partial<AttributionSettings>; refine?: RefineSettings }, callbacks: AttributionCallbacks) => Promise<Pick<FactNeuronsResult, 'refined'>>,
  request: RelationFilterRequest,
  callbacks: AttributionCallbacks = {},
): Promise<{ kept: Neuron[]; facts: number }> {
  if (request.relationFacts.length === 0) throw new FactlabError('bad-facts', "The relation filter needs the relation's facts: the library has none for this relation.");
  const sets: Neuron[][] = [];
  for (const [k, fact] of request.relationFacts.entries()) {
    const found = await findNeurons({ ...fact, attribution: request.attribution, refine: request.refine }, {
      signal: callbacks.signal,
      onProgress: (p) => callbacks.onProgress?.({ fraction: (k + p.fraction) / request.relationFacts.length, stage: `fact ${k + 1} of ${request.relationFacts.length}: ${p.stage}` }),
    });
    sets.push(found.refined.neurons.map((n): Neuron => [n.layer, n.index]));
  }
  return { kept: filterByRelationFrequency(request.neurons, sets), facts: sets.length };
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
