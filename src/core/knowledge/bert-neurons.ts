/**
 * A fact's knowledge neurons in the masked-LM setting (Dai et al. 2022 on BERT): attribute
 * each masked paraphrase ("Paris is the capital of [MASK].") at its [MASK], then refine
 * across paraphrases exactly as for GPT-2 (refine.ts, methods.md D4).
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError, throwIfAborted } from '../errors';
import { bertForward } from '../model/bert';
import type { BertWeights } from '../model/bert-weights';
import { captureHooks, hookName } from '../model/hooks';
import type { WordPiece } from '../tokenizers/wordpiece';
import { resolveAttributionSettings, type AttributionCallbacks, type AttributionSettings, type NeuronSite } from './attribution';
import { attributeMasked, maskPositionOf } from './bert-attribution';
import { ACTIVATION_BASELINE_T, type NeuronMethod } from './neurons';
import { refineNeurons, type PromptAttribution, type RefineResult, type RefineSettings } from './refine';

export interface MaskedFactInputs {
  /** Framed prompts ([CLS] … [MASK] … [SEP]), one per paraphrase. */
  promptIds: number[][];
  targetId: number;
}

export interface MaskedFactNeuronsResult {
  method: NeuronMethod;
  model: 'bert';
  attribution: AttributionSettings;
  refine: RefineSettings;
  perPrompt: Array<{ promptIds: number[]; maskPosition: number; pFull: number; coarse: number; maxScore: number; completeness: Array<{ layer: number; delta: number; relError: number; absolute: boolean }> }>;
  refined: RefineResult;
  /** Per-prompt attributions, kept for re-refining with other t and p. */
  scores: PromptAttribution[];
  seconds: number;
}

/**
 * Token ids for a fact's masked prompts (from the fact library's `maskedPrompts` or masked
 * templates) and its answer, which must be one word piece: one [MASK] stands for one token.
 */
export function maskedFactInputs(tokenizer: WordPiece, prompts: string[], answer: string): MaskedFactInputs {
  if (prompts.length === 0) throw new FactlabError('bad-facts', 'The fact has no masked prompts: add prompts with one [MASK], or masked templates to its relation.');
  const targetId = answerPieceId(tokenizer, answer);
  const promptIds = prompts.map((prompt) => {
    const ids = tokenizer.encodeForModel(prompt);
    try {
      maskPositionOf(ids, tokenizer.maskId);
    } catch (err) {
      throw new FactlabError((err as FactlabError).code, `Prompt "${prompt}": ${(err as Error).message}`);
    }
    return ids;
  });
  return { promptIds, targetId };
}

/** The id of an answer that is one word piece: one [MASK] stands for one token. */
export function answerPieceId(tokenizer: WordPiece, answer: string): number {
  const pieces = tokenizer.tokenize(answer);
  if (pieces.length !== 1) {
    throw new FactlabError(
      'multi-token-target',
      `The answer "${answer}" is ${pieces.length} word pieces (${pieces.join(' ')}) for this vocabulary; the masked setting predicts one token at one [MASK], so choose facts with one-token answers.`,
    );
  }
  return tokenizer.tokenId(pieces[0])!;
}

/** The activation baseline at [MASK]: clean site activations per layer (no gradients). */
export async function maskedActivationScores(weights: BertWeights, promptIds: number[], maskId: number, site: NeuronSite, layers: [number, number]): Promise<PromptAttribution> {
  const position = maskPositionOf(promptIds, maskId);
  const names: string[] = [];
  for (let l = layers[0]; l <= layers[1]; l++) names.push(site === 'post' ? hookName.mlpPost(l) : hookName.mlpPre(l));
  const store = new Map<string, tf.Tensor>();
  tf.tidy(() => {
    bertForward(weights, tf.tensor2d([promptIds], [1, promptIds.length], 'int32'), { hooks: captureHooks(names, store), logitPositions: [position] });
  });
  const result: PromptAttribution = { layers: [] };
  for (const [k, name] of names.entries()) {
    const t = store.get(name)!;
    const width = t.shape[2]!;
    const row = t.slice([0, position, 0], [1, 1, width]);
    result.layers.push({ layer: layers[0] + k, scores: (await row.data()) as Float32Array });
    tf.dispose([row, t]);
  }
  return result;
}

export async function maskedFactNeurons(
  weights: BertWeights,
  maskId: number,
  fact: MaskedFactInputs,
  options: { method?: NeuronMethod; attribution?: Partial<AttributionSettings>; refine: RefineSettings },
  callbacks: AttributionCallbacks = {},
): Promise<MaskedFactNeuronsResult> {
  const started = performance.now();
  if (fact.promptIds.length === 0) throw new FactlabError('bad-facts', 'The fact has no prompts: add at least one prompt.');
  const method = options.method ?? 'ig';
  const scores: PromptAttribution[] = [];
  const perPrompt: MaskedFactNeuronsResult['perPrompt'] = [];
  if (options.attribution?.path === 'fast') throw new FactlabError('bad-option', 'BERT attends in both directions, so it has no fast attribution path; use path "full".');
  let attribution = resolveAttributionSettings(weights, { ...options.attribution, path: 'full' });
  for (const [k, promptIds] of fact.promptIds.entries()) {
    throwIfAborted(callbacks.signal, 'knowledge-neuron search');
    if (method === 'activation') {
      const activations = await maskedActivationScores(weights, promptIds, maskId, attribution.site, attribution.layers);
      scores.push(activations);
      let maxScore = -Infinity;
      for (const l of activations.layers) for (let i = 0; i < l.scores.length; i++) maxScore = Math.max(maxScore, l.scores[i]);
      perPrompt.push({ promptIds, maskPosition: maskPositionOf(promptIds, maskId), pFull: NaN, coarse: 0, maxScore, completeness: [] });
      callbacks.onProgress?.({ fraction: (k + 1) / fact.promptIds.length, stage: `prompt ${k + 1}/${fact.promptIds.length}` });
      continue;
    }
    const result = await attributeMasked(weights, promptIds, maskId, fact.targetId, attribution, {
      signal: callbacks.signal,
      onProgress: (p) => callbacks.onProgress?.({ ...p, fraction: (k + p.fraction) / fact.promptIds.length, stage: `prompt ${k + 1}/${fact.promptIds.length}, ${p.stage}` }),
    });
    attribution = result.settings;
    scores.push({ layers: result.layers.map((l) => ({ layer: l.layer, scores: l.scores })) });
    let maxScore = -Infinity;
    for (const l of result.layers) for (const s of l.scores) maxScore = Math.max(maxScore, s);
    const completeness = result.layers.map(({ layer, delta, relError, absolute }) => ({ layer, delta, relError, absolute }));
    perPrompt.push({ promptIds, maskPosition: result.maskPosition, pFull: result.pFull, coarse: 0, maxScore, completeness });
  }
  const refine = method === 'activation' ? { ...options.refine, t: ACTIVATION_BASELINE_T } : options.refine;
  const refined = refineNeurons(scores, refine);
  refined.coarseSizes.forEach((size, k) => (perPrompt[k].coarse = size));
  return { method, model: 'bert', attribution, refine, perPrompt, refined, scores, seconds: (performance.now() - started) / 1000 };
}
