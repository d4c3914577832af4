/**
 * Knowledge-neuron attribution for BERT at the [MASK] position (Dai et al. 2022, the
 * masked-LM setting; methods.md D1–D3): the FFN activation a of layer l at the [MASK]
 * position is scaled by α along the rule's grid, and attribution_i = a_i · Σ_k w_k ∂P(y)/∂a_i (α_k·a),
 * with P(y) the [MASK] prediction of the one-token answer y.
 *
 * BERT attends in both directions, so GPT-2's single-position shortcut does not apply:
 * every α row recomputes the whole sequence, as the official code does, except that
 * layers below l (which the scaling cannot reach) start from the clean pass's residual.
 * What is batched instead: all α rows of one layer (the rule's points plus α = 1 and α = 0
 * for the completeness check) go through one forward and one backward pass.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError, throwIfAborted, yieldToEventLoop } from '../errors';
import { bertForward } from '../model/bert';
import type { BertWeights } from '../model/bert-weights';
import { captureHooks, hookName } from '../model/hooks';
import { layerAttribution, resolveAttributionSettings, type AttributionCallbacks, type AttributionSettings, type LayerAttribution } from './attribution';
import { riemannGrid } from './riemann';

export interface MaskedAttributionResult {
  method: 'integrated-gradients';
  model: 'bert';
  settings: AttributionSettings;
  /** The framed input ([CLS] … [MASK] … [SEP]) as token ids. */
  promptIds: number[];
  maskPosition: number;
  targetId: number;
  width: number;
  layers: LayerAttribution[];
  /** P(target) at [MASK] in the clean pass. */
  pFull: number;
  seconds: number;
}

/** The one position of `maskId` in a prompt; a clear error for none or several. */
export function maskPositionOf(promptIds: number[], maskId: number): number {
  const positions = promptIds.flatMap((id, i) => (id === maskId ? [i] : []));
  if (positions.length === 0) {
    throw new FactlabError('no-mask', 'A BERT prompt needs exactly one [MASK] where the answer goes (e.g. "Paris is the capital of [MASK]."); this one has none.');
  }
  if (positions.length > 1) {
    throw new FactlabError('several-masks', `A BERT prompt needs exactly one [MASK]; this one has ${positions.length} (at token positions ${positions.join(', ')}). Use a one-token answer and one [MASK].`);
  }
  return positions[0];
}

const siteHook = (site: AttributionSettings['site'], layer: number) => (site === 'post' ? hookName.mlpPost(layer) : hookName.mlpPre(layer));

export async function attributeMasked(
  weights: BertWeights,
  promptIds: number[],
  maskId: number,
  targetId: number,
  partial: Partial<AttributionSettings> = {},
  callbacks: AttributionCallbacks = {},
): Promise<MaskedAttributionResult> {
  const started = performance.now();
  if (partial.path === 'fast') throw new FactlabError('bad-option', 'BERT attends in both directions, so it has no fast attribution path; use path "full".');
  const settings = resolveAttributionSettings(weights, { ...partial, path: 'full' });
  if (settings.baseline !== 'zero') throw new FactlabError('bad-option', 'The AMIG baseline is built for GPT-2 only (the DKN pipeline); attribute BERT with the zero baseline.');
  const { config } = weights;
  const position = maskPositionOf(promptIds, maskId);
  if (!Number.isInteger(targetId) || targetId < 0 || targetId >= config.vocabSize) {
    throw new FactlabError('bad-target', `The answer token id ${targetId} is outside the vocabulary (${config.vocabSize} entries).`);
  }
  if (promptIds.length > config.maxPositions) throw new FactlabError('prompt-too-long', `The prompt needs ${promptIds.length} positions; the model has ${config.maxPositions}.`);
  const { alphas, weights: ruleWeights } = riemannGrid(settings.rule, settings.steps);
  const rowAlphas = [...alphas, 1, 0];
  const K = rowAlphas.length;
  const T = promptIds.length;
  const layerList = Array.from({ length: settings.layers[1] - settings.layers[0] + 1 }, (_, i) => settings.layers[0] + i);

  const captured = new Map<string, tf.Tensor>();
  const cleanProbs = tf.tidy(() =>
    tf.softmax(bertForward(weights, tf.tensor2d([promptIds], [1, T], 'int32'), { hooks: captureHooks(layerList.flatMap((l) => [hookName.residPre(l), siteHook(settings.site, l)]), captured), logitPositions: [position] })),
  );
  const pFull = (await cleanProbs.data())[targetId];
  cleanProbs.dispose();
  const width = captured.get(siteHook(settings.site, layerList[0]))!.shape[2]!;

  const results: LayerAttribution[] = [];
  try {
    for (const [index, layer] of layerList.entries()) {
      throwIfAborted(callbacks.signal, 'attribution');
      const acts = tf.tidy(() => captured.get(siteHook(settings.site, layer))!.slice([0, position, 0], [1, 1, width]).reshape([width]));
      const activation = (await acts.data()) as Float32Array;
      const { grads, rowProbs } = tf.tidy(() => {
        const scaled = tf.mul(tf.tensor1d(rowAlphas).reshape([K, 1, 1]), acts.reshape([1, 1, width]));
        let probs: tf.Tensor | undefined;
        const residual = tf.tile(captured.get(hookName.residPre(layer))!, [K, 1, 1]) as tf.Tensor3D;
        const objective = (x: tf.Tensor) => {
          const logits = bertForward(weights, null, {
            start: { layer, residual },
            hooks: { [siteHook(settings.site, layer)]: (act) => spliceRow(act, x, position) },
            logitPositions: Array(K).fill(position),
          });
          // A slice, not a gather: wasm has no gather gradient.
          const p = tf.softmax(logits).slice([0, targetId], [K, 1]).reshape([K]);
          probs = tf.keep(p.clone());
          return p.sum() as tf.Scalar;
        };
        return { grads: tf.grad(objective)(scaled).reshape([K, width]), rowProbs: probs! };
      });
      acts.dispose();
      const [gradValues, probValues] = await Promise.all([grads.data(), rowProbs.data()]);
      tf.dispose([grads, rowProbs]);
      const scores = new Float64Array(width);
      for (let k = 0; k < alphas.length; k++) for (let i = 0; i < width; i++) scores[i] += activation[i] * ruleWeights[k] * gradValues[k * width + i];
      const result = layerAttribution(layer, scores, activation, probValues[K - 2] - probValues[K - 1]);
      results.push(result);
      callbacks.onLayer?.(result);
      const elapsed = (performance.now() - started) / 1000;
      callbacks.onProgress?.({ fraction: (index + 1) / layerList.length, stage: `layer ${layer}`, etaSeconds: (elapsed / (index + 1)) * (layerList.length - index - 1) });
      await yieldToEventLoop();
    }
  } finally {
    captured.forEach((t) => t.dispose());
  }
  return { method: 'integrated-gradients', model: 'bert', settings, promptIds, maskPosition: position, targetId, width, layers: results, pFull, seconds: (performance.now() - started) / 1000 };
}

/** act [K, T, f] with row t replaced by x [K, 1, f]; slices and concat keep the gradient on wasm. */
function spliceRow(act: tf.Tensor, x: tf.Tensor, t: number): tf.Tensor {
  const [K, T, f] = act.shape as [number, number, number];
  const parts = [x];
  if (t > 0) parts.unshift(act.slice([0, 0, 0], [K, t, f]));
  if (t < T - 1) parts.push(act.slice([0, t + 1, 0], [K, T - t - 1, f]));
  return tf.concat(parts, 1);
}
