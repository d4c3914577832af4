/**
 * A fact's knowledge neurons: attribute every paraphrase prompt, then refine (methods.md D4).
 * The activation baseline of the paper (§4.3) ranks neurons by raw activation instead.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError, throwIfAborted } from '../errors';
import { forward } from '../model/gpt2';
import { captureHooks, hookName } from '../model/hooks';
import type { Gpt2Weights } from '../model/weights';
import { attribute, resolveAttributionSettings, type AttributionCallbacks, type AttributionSettings, type NeuronSite } from './attribution';
import { answerPositions } from './patching';
import { refineNeurons, type PromptAttribution, type RefineResult, type RefineSettings } from './refine';

export type NeuronMethod = 'ig' | 'activation';

export interface FactPromptIds {
  promptIds: number[][];
  targetIds: number[];
}

export interface FactNeuronsResult {
  method: NeuronMethod;
  attribution: AttributionSettings;
  refine: RefineSettings;
  perPrompt: Array<{ promptIds: number[]; pFull: number; coarse: number; maxScore: number; completeness: Array<{ layer: number; delta: number; relError: number; absolute: boolean }> }>;
  refined: RefineResult;
  /** Per-prompt scores (attribution or activation), kept for re-refining with other t and p. */
  scores: PromptAttribution[];
  seconds: number;
}

/** The activation baseline's coarse threshold (official `threshold_ratio` for `base_`). */
export const ACTIVATION_BASELINE_T = 0.5;

/** Clean site activations at the answer positions, summed over answer tokens, per layer. */
export async function activationScores(weights: Gpt2Weights, promptIds: number[], targetIds: number[], site: NeuronSite, layers: [number, number]): Promise<PromptAttribution> {
  const sequence = [...promptIds, ...targetIds.slice(0, -1)];
  const positions = answerPositions(promptIds.length, targetIds.length);
  const names: string[] = [];
  for (let l = layers[0]; l <= layers[1]; l++) names.push(site === 'post' ? hookName.mlpPost(l) : hookName.mlpPre(l));
  const store = new Map<string, tf.Tensor>();
  tf.tidy(() => {
    forward(weights, tf.tensor2d([sequence], [1, sequence.length], 'int32'), { hooks: captureHooks(names, store), stopAtLayer: layers[1] + 1 });
  });
  const result: PromptAttribution = { layers: [] };
  for (const [k, name] of names.entries()) {
    const t = store.get(name)!;
    const width = t.shape[2]!;
    const values = await t.data();
    const scores = new Float32Array(width);
    for (const p of positions) for (let i = 0; i < width; i++) scores[i] += values[p * width + i];
    result.layers.push({ layer: layers[0] + k, scores });
    t.dispose();
  }
  return result;
}

export async function factNeurons(
  weights: Gpt2Weights,
  fact: FactPromptIds,
  options: { method?: NeuronMethod; attribution?: Partial<AttributionSettings>; refine: RefineSettings },
  callbacks: AttributionCallbacks = {},
): Promise<FactNeuronsResult> {
  const started = performance.now();
  if (fact.promptIds.length === 0) throw new FactlabError('bad-facts', 'The fact has no prompts: add at least one prompt.');
  const method = options.method ?? 'ig';
  const attribution = resolveAttributionSettings(weights, options.attribution ?? {});
  const refine = method === 'activation' ? { ...options.refine, t: ACTIVATION_BASELINE_T } : options.refine;
  const scores: PromptAttribution[] = [];
  const perPrompt: FactNeuronsResult['perPrompt'] = [];
  for (let k = 0; k < fact.promptIds.length; k++) {
    throwIfAborted(callbacks.signal, 'knowledge-neuron search');
    const promptIds = fact.promptIds[k];
    let promptScores: PromptAttribution;
    let pFull = NaN;
    let completeness: FactNeuronsResult['perPrompt'][number]['completeness'] = [];
    if (method === 'ig') {
      const result = await attribute(weights, promptIds, fact.targetIds, attribution, {
        signal: callbacks.signal,
        onProgress: (p) => callbacks.onProgress?.({ ...p, fraction: (k + p.fraction) / fact.promptIds.length, stage: `prompt ${k + 1}/${fact.promptIds.length}, ${p.stage}` }),
      });
      promptScores = { layers: result.layers.map((l) => ({ layer: l.layer, scores: l.scores })) };
      pFull = result.pFull;
      completeness = result.layers.map(({ layer, delta, relError, absolute }) => ({ layer, delta, relError, absolute }));
    } else {
      promptScores = await activationScores(weights, promptIds, fact.targetIds, attribution.site, attribution.layers);
      callbacks.onProgress?.({ fraction: (k + 1) / fact.promptIds.length, stage: `prompt ${k + 1}/${fact.promptIds.length}` });
    }
    scores.push(promptScores);
    let maxScore = -Infinity;
    for (const l of promptScores.layers) for (let i = 0; i < l.scores.length; i++) maxScore = Math.max(maxScore, l.scores[i]);
    perPrompt.push({ promptIds, pFull, coarse: 0, maxScore, completeness });
  }
  const refined = refineNeurons(scores, refine);
  refined.coarseSizes.forEach((size, k) => (perPrompt[k].coarse = size));
  return { method, attribution, refine, perPrompt, refined, scores, seconds: (performance.now() - started) / 1000 };
}
