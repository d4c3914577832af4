/**
 * Knowledge-neuron attribution by integrated gradients (Dai et al. 2022; methods.md D1–D3).
 *
 * For answer token j (teacher forcing: the prompt plus the gold tokens before j) and layer l,
 * the whole FFN activation a at the position predicting y_j is scaled by α along the rule's
 * grid, and attribution_i = a_i · Σ_k w_k ∂P(y_j)/∂a_i (α_k·a), summed over answer tokens.
 * With `baseline: 'amig'` the path runs b̄ + α(a − b̄) instead (amig.ts), multiplier still a.
 *
 * Fast path (causal models): scaling the activation at position t of layer l changes nothing
 * at positions < t, so the α-batch starts from the clean residual at layer l for that one
 * position and attends to the clean pass's cached keys/values: each (l, j) costs one
 * single-position pass through layers ≥ l, for all α at once, and one backward pass.
 * The full path recomputes whole sequences, as the official code does; it is kept as the
 * reference the fast path is tested against.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError, throwIfAborted, yieldToEventLoop } from '../errors';
import { givenOptions } from '../options';
import { disposeCache, forward, type KVCache } from '../model/gpt2';
import { captureHooks, hookName } from '../model/hooks';
import { cacheTransposesForGradients, type Gpt2Weights } from '../model/weights';
import { amigBaselines } from './amig';
import { checkIgBaseline, riemannGrid, type IgBaseline, type RiemannRule } from './riemann';

export type NeuronSite = 'post' | 'pre';

export interface AttributionSettings {
  steps: number;
  rule: RiemannRule;
  site: NeuronSite;
  /** Inclusive layer range. */
  layers: [number, number];
  path: 'fast' | 'full';
  /** Where the integration path starts: the zero activation (the papers' IG) or AMIG's mean EOS-substituted activation (GPT-2 only). */
  baseline: IgBaseline;
}

export interface LayerAttribution {
  layer: number;
  /** Attribution per neuron, summed over answer tokens. */
  scores: Float32Array;
  /** Clean activation at the position predicting the first answer token. */
  activation: Float32Array;
  /** Completeness: Σ scores vs Σ_j [P_j(full) − P_j(layer at the baseline)]; the baseline is zero unless `baseline` is amig. */
  sum: number;
  delta: number;
  /** |sum − delta| / |delta|, or the absolute error when |delta| < 1e−9 (then `absolute` is true). */
  relError: number;
  absolute: boolean;
}

export interface AttributionResult {
  method: 'integrated-gradients';
  settings: AttributionSettings;
  promptIds: number[];
  targetIds: number[];
  width: number;
  layers: LayerAttribution[];
  /** Product of the teacher-forced probabilities of the answer tokens. */
  pFull: number;
  tokenProbs: number[];
  seconds: number;
}

export interface AttributionProgress {
  fraction: number;
  stage: string;
  etaSeconds?: number;
}

export interface AttributionCallbacks {
  signal?: AbortSignal;
  onProgress?: (p: AttributionProgress) => void;
  /** Each layer's result as soon as it is complete (for streaming views). */
  onLayer?: (layer: LayerAttribution) => void;
}

export const DEFAULT_ATTRIBUTION: Omit<AttributionSettings, 'layers'> = { steps: 20, rule: 'right', site: 'post', path: 'fast', baseline: 'zero' };

/** Works for any model with layers (GPT-2, BERT). */
export function resolveAttributionSettings(weights: { config: { nLayer: number } }, partial: Partial<AttributionSettings>): AttributionSettings {
  const nLayer = weights.config.nLayer;
  const layers = partial.layers ?? [0, nLayer - 1];
  if (!layers.every((l) => Number.isInteger(l)) || layers[0] < 0 || layers[1] >= nLayer || layers[0] > layers[1]) {
    throw new FactlabError('bad-option', `layers must be a range within 0–${nLayer - 1}, got ${layers.join('–')}.`);
  }
  const site = partial.site ?? DEFAULT_ATTRIBUTION.site;
  if (site !== 'post' && site !== 'pre') throw new FactlabError('bad-option', `site must be post or pre, got "${String(site)}".`);
  // An option given as undefined (e.g. from state saved before the option existed) takes its default.
  const settings = { ...DEFAULT_ATTRIBUTION, ...givenOptions(partial), layers, site } as AttributionSettings;
  riemannGrid(settings.rule, settings.steps); // validates rule and steps
  if (settings.path !== 'fast' && settings.path !== 'full') throw new FactlabError('bad-option', `path must be fast or full, got "${String(settings.path)}".`);
  checkIgBaseline(settings.baseline, 'baseline');
  return settings;
}

/** A layer's record with its completeness check (methods.md D3): Σ scores against delta. */
export function layerAttribution(layer: number, scores: Float64Array, activation: Float32Array, delta: number): LayerAttribution {
  let sum = 0;
  for (const s of scores) sum += s;
  const absolute = Math.abs(delta) < 1e-9;
  const error = Math.abs(sum - delta);
  return { layer, scores: Float32Array.from(scores), activation, sum, delta, relError: absolute ? error : error / Math.abs(delta), absolute };
}

const siteHook = (site: NeuronSite, layer: number) => (site === 'post' ? hookName.mlpPost(layer) : hookName.mlpPre(layer));


export async function attribute(
  weights: Gpt2Weights,
  promptIds: number[],
  targetIds: number[],
  partial: Partial<AttributionSettings> = {},
  callbacks: AttributionCallbacks = {},
): Promise<AttributionResult> {
  const started = performance.now();
  const settings = resolveAttributionSettings(weights, partial);
  if (promptIds.length === 0) throw new FactlabError('empty-prompt', 'The prompt has no tokens.');
  if (targetIds.length === 0) throw new FactlabError('empty-target', 'The target has no tokens.');
  const { config } = weights;
  const sequence = [...promptIds, ...targetIds.slice(0, -1)];
  if (sequence.length > config.nPositions) throw new FactlabError('prompt-too-long', `Prompt plus target need ${sequence.length} positions; the model has ${config.nPositions}.`);
  const positions = targetIds.map((_, j) => promptIds.length - 1 + j);
  const { alphas, weights: ruleWeights } = riemannGrid(settings.rule, settings.steps);
  // Rows: the rule's points, then α = 1 and α = 0 for the completeness check.
  const rowAlphas = [...alphas, 1, 0];
  const K = rowAlphas.length;
  cacheTransposesForGradients(weights);

  // Clean pass: keys/values, residuals and activations at every layer.
  const cache: KVCache = [];
  const captured = new Map<string, tf.Tensor>();
  const layerList: number[] = [];
  for (let l = settings.layers[0]; l <= settings.layers[1]; l++) layerList.push(l);
  const captureNames = layerList.flatMap((l) => [hookName.residPre(l), siteHook(settings.site, l)]);
  const cleanLogProbs = tf.tidy(() => {
    const logits = forward(weights, tf.tensor2d([sequence], [1, sequence.length], 'int32'), { cacheOut: cache, hooks: captureHooks(captureNames, captured) });
    return tf.logSoftmax(logits.reshape([sequence.length, config.vocabSize]));
  });
  const cleanRows = (await cleanLogProbs.array()) as number[][];
  cleanLogProbs.dispose();
  const tokenProbs = targetIds.map((y, j) => Math.exp(cleanRows[positions[j]][y]));
  const width = captured.get(siteHook(settings.site, layerList[0]))!.shape[2]!;

  const results: LayerAttribution[] = [];
  const total = layerList.length * targetIds.length;
  let done = 0;
  try {
    const site = { hookNames: layerList.map((l) => siteHook(settings.site, l)), lastLayer: settings.layers[1] };
    const amig = settings.baseline === 'amig'
      ? await Promise.all(positions.map((position) => amigBaselines(weights, sequence, position, site, config.eosTokenId)))
      : undefined;
    for (const layer of layerList) {
      const scores = new Float64Array(width);
      let delta = 0;
      let activation: Float32Array | undefined;
      for (let j = 0; j < targetIds.length; j++) {
        throwIfAborted(callbacks.signal, 'attribution');
        const position = positions[j];
        const acts = tf.tidy(() => captured.get(siteHook(settings.site, layer))!.slice([0, position, 0], [1, 1, width]).reshape([width]));
        const a = (await acts.data()) as Float32Array;
        activation ??= a;
        const baseline = amig?.[j].get(siteHook(settings.site, layer));
        const { grads, rowProbs } = tf.tidy(() => {
          // Path points b + α(a − b) as rows [K, 1, f]; with b = 0 they are exactly α·a.
          const start = baseline ? tf.tensor1d(baseline) : tf.zeros([width]);
          const scaled = tf.add(start, tf.mul(tf.tensor1d(rowAlphas).reshape([K, 1, 1]), tf.sub(acts, start)));
          let probs: tf.Tensor | undefined;
          const objective = (x: tf.Tensor) => {
            const p = settings.path === 'fast'
              ? fastRowProbs(weights, settings.site, layer, position, targetIds[j], x, captured, cache)
              : fullRowProbs(weights, settings.site, layer, position, targetIds[j], x, sequence);
            probs = tf.keep(p.clone());
            return p.sum() as tf.Scalar;
          };
          const g = tf.grad(objective)(scaled);
          return { grads: g.reshape([K, width]), rowProbs: probs! };
        });
        acts.dispose();
        const [gradValues, probValues] = await Promise.all([grads.data(), rowProbs.data()]);
        grads.dispose();
        rowProbs.dispose();
        for (let k = 0; k < alphas.length; k++) {
          const w = ruleWeights[k];
          for (let i = 0; i < width; i++) scores[i] += a[i] * w * gradValues[k * width + i];
        }
        delta += probValues[K - 2] - probValues[K - 1];
        done++;
        const elapsed = (performance.now() - started) / 1000;
        callbacks.onProgress?.({ fraction: done / total, stage: `layer ${layer}`, etaSeconds: (elapsed / done) * (total - done) });
        await yieldToEventLoop();
      }
      const result = layerAttribution(layer, scores, activation!, delta);
      results.push(result);
      callbacks.onLayer?.(result);
    }
  } finally {
    disposeCache(cache);
    captured.forEach((t) => t.dispose());
  }
  return {
    method: 'integrated-gradients',
    settings,
    promptIds,
    targetIds,
    width,
    layers: results,
    pFull: tokenProbs.reduce((a, b) => a * b, 1),
    tokenProbs,
    seconds: (performance.now() - started) / 1000,
  };
}

/** P(gold) per row when the site activation of `layer` at `position` is replaced by the rows of x [K, 1, f]. */
function fastRowProbs(weights: Gpt2Weights, site: NeuronSite, layer: number, position: number, gold: number, x: tf.Tensor, captured: Map<string, tf.Tensor>, cache: KVCache): tf.Tensor {
  const K = x.shape[0];
  const d = weights.config.nEmbd;
  const residual = tf.tile(captured.get(hookName.residPre(layer))!.slice([0, position, 0], [1, 1, d]), [K, 1, 1]) as tf.Tensor3D;
  const past: KVCache | undefined = position === 0 ? undefined : cache.map((kv) => ({
    key: kv.key.slice([0, 0, 0, 0], [1, kv.key.shape[1], position, kv.key.shape[3]]),
    value: kv.value.slice([0, 0, 0, 0], [1, kv.value.shape[1], position, kv.value.shape[3]]),
  }));
  const logits = forward(weights, null, {
    start: { layer, residual },
    past,
    hooks: { [siteHook(site, layer)]: () => x },
    logitPositions: Array(K).fill(0),
  });
  return goldProb(logits, gold);
}

function fullRowProbs(weights: Gpt2Weights, site: NeuronSite, layer: number, position: number, gold: number, x: tf.Tensor, sequence: number[]): tf.Tensor {
  const K = x.shape[0];
  const prefix = sequence.slice(0, position + 1);
  const tokens = tf.tensor2d(Array.from({ length: K }, () => prefix), [K, prefix.length], 'int32');
  const logits = forward(weights, tokens, {
    hooks: {
      [siteHook(site, layer)]: (act) => {
        const f = act.shape[2]!;
        return position === 0 ? x : tf.concat([act.slice([0, 0, 0], [K, position, f]), x], 1);
      },
    },
    logitPositions: Array(K).fill(position),
  });
  return goldProb(logits, gold);
}

/** Softmax probability of one token per row; a slice, not a gather (no gather gradient on wasm). */
function goldProb(logits: tf.Tensor, gold: number): tf.Tensor {
  return tf.softmax(logits).slice([0, gold], [logits.shape[0], 1]).reshape([logits.shape[0]]);
}
