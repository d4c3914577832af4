/**
 * A fact's knowledge neurons in the masked-LM setting (Dai et al. 2022 on BERT): attribute
 * each masked paraphrase ("Paris is the capital of [MASK].") at its [MASK], then refine
 * across paraphrases exactly as for GPT-2 (refine.ts, methods.md D4).
 */
import { FactlabError, throwIfAborted } from '../errors';
import type { BertWeights } from '../model/bert-weights';
import type { WordPiece } from '../tokenizers/wordpiece';
import type { AttributionCallbacks, AttributionSettings } from './attribution';
import { attributeMasked, maskPositionOf } from './bert-attribution';
import { refineNeurons, type PromptAttribution, type RefineResult, type RefineSettings } from './refine';

export interface MaskedFactInputs {
  /** Framed prompts ([CLS] … [MASK] … [SEP]), one per paraphrase. */
  promptIds: number[][];
  targetId: number;
}

export interface MaskedFactNeuronsResult {
  method: 'ig';
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
  const pieces = tokenizer.tokenize(answer);
  if (pieces.length !== 1) {
    throw new FactlabError(
      'multi-token-target',
      `The answer "${answer}" is ${pieces.length} word pieces (${pieces.join(' ')}) for this vocabulary; the masked setting predicts one token at one [MASK], so choose facts with one-token answers.`,
    );
  }
  const promptIds = prompts.map((prompt) => {
    const ids = tokenizer.encodeForModel(prompt);
    try {
      maskPositionOf(ids, tokenizer.maskId);
    } catch (err) {
      throw new FactlabError((err as FactlabError).code, `Prompt "${prompt}": ${(err as Error).message}`);
    }
    return ids;
  });
  return { promptIds, targetId: tokenizer.tokenId(pieces[0])! };
}

export async function maskedFactNeurons(
  weights: BertWeights,
  maskId: number,
  fact: MaskedFactInputs,
  options: { attribution?: Partial<AttributionSettings>; refine: RefineSettings },
  callbacks: AttributionCallbacks = {},
): Promise<MaskedFactNeuronsResult> {
  const started = performance.now();
  if (fact.promptIds.length === 0) throw new FactlabError('bad-facts', 'The fact has no prompts: add at least one prompt.');
  const scores: PromptAttribution[] = [];
  const perPrompt: MaskedFactNeuronsResult['perPrompt'] = [];
  let attribution: AttributionSettings | undefined;
  for (const [k, promptIds] of fact.promptIds.entries()) {
    throwIfAborted(callbacks.signal, 'knowledge-neuron search');
    const result = await attributeMasked(weights, promptIds, maskId, fact.targetId, options.attribution, {
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
  const refined = refineNeurons(scores, options.refine);
  refined.coarseSizes.forEach((size, k) => (perPrompt[k].coarse = size));
  return { method: 'ig', model: 'bert', attribution: attribution!, refine: options.refine, perPrompt, refined, scores, seconds: (performance.now() - started) / 1000 };
}
