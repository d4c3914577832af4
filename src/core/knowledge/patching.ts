/**
 * Patching utilities (methods.md appendix 10): the teacher-forced probability of an answer,
 * neuron suppression/amplification as hooks at every answer-predicting position, and the
 * relative drop used by the degeneracy filter.
 */
import * as tf from '@tensorflow/tfjs';
import { forward, type ForwardOptions } from '../model/gpt2';
import { combineHooks, hookName, neuronPatchHook, type Hooks } from '../model/hooks';
import type { Gpt2Weights } from '../model/weights';
import type { NeuronSite } from './attribution';
import { indicesByLayer, type Neuron } from './refine';

export interface AnswerProb {
  /** Product of the teacher-forced token probabilities. */
  prob: number;
  tokenProbs: number[];
  /** Whether every answer token is the argmax at its position (greedy decoding yields the answer). */
  top1: boolean;
}

/** Positions that predict the answer tokens: the last prompt token and each teacher-forced gold token but the last. */
export function answerPositions(promptLength: number, answerLength: number): number[] {
  return Array.from({ length: answerLength }, (_, j) => promptLength - 1 + j);
}

/**
 * Hooks that scale the given neurons (×0 suppress, ×2 amplify) at the given positions:
 * one list for every batch row, or one list per row.
 */
export function scaleNeuronsHooks(neurons: Neuron[], scale: number, positions: number[] | number[][], site: NeuronSite = 'post'): Hooks {
  const hooks: Hooks = {};
  for (const [layer, indices] of indicesByLayer(neurons)) {
    hooks[site === 'post' ? hookName.mlpPost(layer) : hookName.mlpPre(layer)] = neuronPatchHook({ neurons: indices, positions, scale });
  }
  return hooks;
}

/**
 * Scores several prompt → answer pairs under the same hooks/edits, in one padded batch.
 * `hooksFor(positions)` builds the hooks for one item's answer positions, so interventions act
 * at the right positions in every row.
 */
export async function answerProbs(
  weights: Gpt2Weights,
  items: Array<{ promptIds: number[]; targetIds: number[] }>,
  options: { hooksFor?: (answerPositionsPerRow: number[][]) => Hooks | undefined; overrides?: ForwardOptions['overrides']; masks?: ForwardOptions['masks'] } = {},
): Promise<AnswerProb[]> {
  if (items.length === 0) return [];
  const sequences = items.map((it) => [...it.promptIds, ...it.targetIds.slice(0, -1)]);
  const width = Math.max(...sequences.map((s) => s.length));
  const pad = weights.config.eosTokenId;
  const positions = items.map((it) => answerPositions(it.promptIds.length, it.targetIds.length));
  const logProbs = tf.tidy(() => {
    const tokens = tf.tensor2d(sequences.map((s) => [...s, ...Array(width - s.length).fill(pad)]), [items.length, width], 'int32');
    const mask = tf.tensor2d(sequences.map((s) => [...Array(s.length).fill(1), ...Array(width - s.length).fill(0)]), [items.length, width], 'int32');
    const logits = forward(weights, tokens, { attentionMask: mask, hooks: options.hooksFor?.(positions), overrides: options.overrides, masks: options.masks });
    return tf.logSoftmax(logits);
  });
  // Read asynchronously: WebGPU cannot read synchronously inside a worker.
  const values = await logProbs.data();
  const vocab = logProbs.shape[2]!;
  logProbs.dispose();
  return items.map((it, b) => {
    const tokenProbs: number[] = [];
    let top1 = true;
    it.targetIds.forEach((token, j) => {
      const row = (b * width + positions[b][j]) * vocab;
      const gold = values[row + token];
      tokenProbs.push(Math.exp(gold));
      for (let v = 0; v < vocab && top1; v++) if (values[row + v] > gold) top1 = false;
    });
    return { prob: tokenProbs.reduce((a, c) => a * c, 1), tokenProbs, top1 };
  });
}

/** Probabilities with the neurons scaled at each row's answer positions, plus any extra hooks. */
export function answerProbsWithNeurons(weights: Gpt2Weights, items: Array<{ promptIds: number[]; targetIds: number[] }>, neurons: Neuron[], scale: number, site: NeuronSite = 'post', extra?: Hooks): Promise<AnswerProb[]> {
  return answerProbs(weights, items, {
    hooksFor: (positions) => combineHooks(neurons.length ? scaleNeuronsHooks(neurons, scale, positions, site) : undefined, extra),
  });
}

/** Relative drop (P0 − P)/P0. */
export function relativeDrop(before: number, after: number): number {
  return before > 0 ? (before - after) / before : 0;
}
