/**
 * KL terms of subnetwork training (methods.md §5.3, appendix 8), averaged over rows
 * ('batchmean'). For a row with remaining-model logits z = h·Eᵀ and reference p:
 *
 *   KL(p‖q) = Σ p log p − Σ p z + lse(z),          ∂/∂z = q − p
 *   KL(U‖q) = −log V − mean(z) + lse(z),            ∂/∂z = q − 1/V
 *
 * Whole-vocabulary form: from logits [rows, V], by autodiff. Chunked form: from the hidden rows
 * h [rows, d]; since Σ p z = h · (Σ_v p_v E_v), the reference is summarized by its negative
 * entropy Σ p log p [rows] and expected embedding Σ_v p_v E_v [rows, d] (uniform: −log V and the
 * mean embedding row), so only lse(z) needs the vocabulary: one pass over chunks forward, and a
 * custom gradient dL/dh = (Σ_chunks q_c·E_c − Σ_v p_v E_v)/rows in one more. [rows, V] is never
 * materialized; a chunk holds [rows, chunk].
 */
import * as tf from '@tensorflow/tfjs';
import type { Gpt2Weights } from '../model/weights';
import { drain } from './units';

export interface VocabHead {
  /** Token embedding [V, d], tied to the output layer. */
  wte: tf.Tensor2D;
  /** wteᵀ [d, V] when the model keeps it (faster plain products on wasm). */
  unembedding?: tf.Tensor2D;
  vocabSize: number;
}

export function headOf(weights: Gpt2Weights): VocabHead {
  return { wte: weights.params.get('wte.weight') as tf.Tensor2D, unembedding: weights.unembedding, vocabSize: weights.config.vocabSize };
}

/** Logits h·Eᵀ [rows, V] (columns [start, start + size) when given). */
export function logitsOf(head: VocabHead, hidden: tf.Tensor2D, start = 0, size = head.vocabSize): tf.Tensor2D {
  return tf.tidy(() => {
    const d = head.wte.shape[1];
    const whole = start === 0 && size === head.vocabSize;
    const columns = head.unembedding
      ? whole ? head.unembedding : tf.slice(head.unembedding, [0, start], [d, size])
      : tf.transpose(whole ? head.wte : tf.slice(head.wte, [start, 0], [size, d]));
    return tf.matMul(hidden, columns);
  });
}

/** KL(U‖softmax(z)), batchmean, from whole-vocabulary logits. */
export function klUniformFromLogits(logits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const V = logits.shape[1];
    const rows = tf.add(tf.sub(tf.logSumExp(logits, 1), tf.mean(logits, 1)), -Math.log(V));
    return tf.mean(rows) as tf.Scalar;
  });
}

/** KL(p‖softmax(z)), batchmean, with p given by its log-probabilities (a constant). */
export function klFromLogits(refLogProbs: tf.Tensor2D, logits: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const p = tf.exp(refLogProbs);
    const rows = tf.sum(tf.mul(p, tf.sub(refLogProbs, tf.logSoftmax(logits, 1))), 1);
    return tf.mean(rows) as tf.Scalar;
  });
}

/** What the chunked KL needs of a reference distribution (rows may be 1 and broadcast). */
export interface ChunkedReference {
  /** Σ_v p_v log p_v, [rows] or [1]. */
  negEntropy: tf.Tensor1D;
  /** Σ_v p_v E_v, [rows, d] or [1, d]. */
  expected: tf.Tensor2D;
}

export type KlReference =
  | { kind: 'uniform'; chunked?: ChunkedReference }
  | { kind: 'logProbs'; logProbs: tf.Tensor2D }
  | { kind: 'chunked'; chunked: ChunkedReference };

export function disposeReference(ref: KlReference): void {
  if (ref.kind === 'logProbs') ref.logProbs.dispose();
  const chunked = ref.kind === 'logProbs' ? undefined : ref.chunked;
  chunked?.negEntropy.dispose();
  chunked?.expected.dispose();
}

function chunkBounds(V: number, chunk: number): Array<[number, number]> {
  const bounds: Array<[number, number]> = [];
  for (let start = 0; start < V; start += chunk) bounds.push([start, Math.min(chunk, V - start)]);
  return bounds;
}

/** Runs `step` inside a tidy and swaps the returned accumulators in, disposing the old ones. */
function accumulate(state: tf.Tensor[], step: () => tf.Tensor[]): tf.Tensor[] {
  const next = tf.tidy(step);
  for (const t of state) t.dispose();
  return next;
}

/**
 * The chunk loops below are generators that yield after each vocabulary chunk: `drain` runs them
 * in one go (inside a custom gradient), a training step runs them a chunk per unit of work
 * (`UnitGate.drive`). Closing one early frees its accumulators (the `finally` blocks).
 */

/** Row-wise log-sum-exp of h·Eᵀ, one vocabulary chunk at a time (online rescaling). */
export function* logSumExpSteps(head: VocabHead, hidden: tf.Tensor2D, chunk: number): Generator<void, tf.Tensor1D> {
  let acc: tf.Tensor[] = [];
  try {
    for (const [start, size] of chunkBounds(head.vocabSize, chunk)) {
      acc = accumulate(acc, () => {
        const z = logitsOf(head, hidden, start, size);
        const max = acc.length ? tf.maximum(acc[0], tf.max(z, 1)) : tf.max(z, 1);
        const part = tf.sum(tf.exp(tf.sub(z, tf.expandDims(max, 1))), 1);
        return [max, acc.length ? tf.add(tf.mul(acc[1], tf.exp(tf.sub(acc[0], max))), part) : part];
      });
      yield;
    }
    return tf.tidy(() => tf.add(acc[0], tf.log(acc[1])) as tf.Tensor1D);
  } finally {
    for (const t of acc) t.dispose();
  }
}

export const chunkedLogSumExp = (head: VocabHead, hidden: tf.Tensor2D, chunk: number): tf.Tensor1D => drain(logSumExpSteps(head, hidden, chunk));

/** Summary of the uniform distribution: −log V and the mean embedding row. */
export function uniformChunkedReference(head: VocabHead): ChunkedReference {
  return tf.tidy(() => ({ negEntropy: tf.fill([1], -Math.log(head.vocabSize)) as tf.Tensor1D, expected: tf.mean(head.wte, 0, true) as tf.Tensor2D }));
}

/** Summary of p = softmax(h_ref·Eᵀ) per row, in one pass over vocabulary chunks (no gradient). */
export function* chunkedReferenceSteps(head: VocabHead, hiddenRef: tf.Tensor2D, chunk: number): Generator<void, ChunkedReference> {
  const d = head.wte.shape[1];
  // Online over chunks: M = running max, S = Σ e^(z−M), A = Σ e^(z−M)·z, X = Σ e^(z−M)·E_v.
  let acc: tf.Tensor[] = [];
  try {
    for (const [start, size] of chunkBounds(head.vocabSize, chunk)) {
      acc = accumulate(acc, () => {
        const z = logitsOf(head, hiddenRef, start, size);
        const max = acc.length ? tf.maximum(acc[0], tf.max(z, 1)) : tf.max(z, 1);
        const w = tf.exp(tf.sub(z, tf.expandDims(max, 1)));
        const parts = [tf.sum(w, 1), tf.sum(tf.mul(w, z), 1), tf.matMul(w, tf.slice(head.wte, [start, 0], [size, d]))];
        if (!acc.length) return [max, ...parts];
        const scale = tf.exp(tf.sub(acc[0], max));
        return [max, tf.add(tf.mul(acc[1], scale), parts[0]), tf.add(tf.mul(acc[2], scale), parts[1]), tf.add(tf.mul(acc[3], tf.expandDims(scale, 1)), parts[2])];
      });
      yield;
    }
    return tf.tidy(() => {
      const [max, s, a, x] = acc;
      const lse = tf.add(max, tf.log(s));
      return { negEntropy: tf.sub(tf.div(a, s), lse) as tf.Tensor1D, expected: tf.div(x, tf.expandDims(s, 1)) as tf.Tensor2D };
    });
  } finally {
    for (const t of acc) t.dispose();
  }
}

export const chunkedReference = (head: VocabHead, hiddenRef: tf.Tensor2D, chunk: number): ChunkedReference => drain(chunkedReferenceSteps(head, hiddenRef, chunk));

/** Σ_v q_v E_v per row, q = softmax(h·Eᵀ) given its log-sum-exp: the model's expected embedding. */
function* expectedEmbeddingSteps(head: VocabHead, hidden: tf.Tensor2D, lse: tf.Tensor1D, chunk: number): Generator<void, tf.Tensor2D> {
  const d = head.wte.shape[1];
  let qe: tf.Tensor[] = [];
  try {
    for (const [start, size] of chunkBounds(head.vocabSize, chunk)) {
      qe = accumulate(qe, () => {
        const q = tf.exp(tf.sub(logitsOf(head, hidden, start, size), tf.expandDims(lse, 1)));
        const part = tf.matMul(q, tf.slice(head.wte, [start, 0], [size, d]));
        return [qe.length ? tf.add(qe[0], part) : part];
      });
      yield;
    }
    const sum = qe[0] as tf.Tensor2D;
    qe = []; // handed to the caller
    return sum;
  } finally {
    for (const t of qe) t.dispose();
  }
}

/** Batchmean Σ p log p − h·(Σ p E) + lse(z) over the rows. */
const chunkedKlValue = (reference: ChunkedReference, hidden: tf.Tensor2D, lse: tf.Tensor1D): tf.Scalar =>
  tf.tidy(() => tf.div(tf.sum(tf.add(tf.sub(reference.negEntropy, tf.sum(tf.mul(hidden, reference.expected), 1)), lse)), hidden.shape[0]) as tf.Scalar);

/** ∂(batchmean KL)/∂h · dy = (Σ q E − Σ p E)·dy/rows. */
const chunkedKlGrad = (reference: ChunkedReference, qe: tf.Tensor2D, dy: tf.Tensor | number): tf.Tensor2D =>
  tf.tidy(() => tf.mul(tf.sub(qe, reference.expected), tf.div(dy, qe.shape[0])) as tf.Tensor2D);

/**
 * Batchmean KL(p‖softmax(h·Eᵀ)) from hidden rows, never materializing [rows, V];
 * differentiable w.r.t. `hidden` through a custom gradient. `reference` must outlive the backward pass.
 */
export function chunkedKl(head: VocabHead, hidden: tf.Tensor2D, reference: ChunkedReference, chunk: number): tf.Scalar {
  const op = tf.customGrad((h, save) => {
    const input = h as tf.Tensor2D;
    const lse = chunkedLogSumExp(head, input, chunk);
    (save as tf.GradSaveFunc)([input, lse]);
    return {
      value: chunkedKlValue(reference, input, lse),
      gradFunc: (dy, saved) => {
        const [hs, lseSaved] = saved as [tf.Tensor2D, tf.Tensor1D];
        const qe = drain(expectedEmbeddingSteps(head, hs, lseSaved, chunk));
        const grad = chunkedKlGrad(reference, qe, dy as tf.Tensor);
        qe.dispose();
        return grad;
      },
    };
  });
  return op(hidden) as tf.Scalar;
}

const isChunked = (chunk: number, head: VocabHead) => chunk > 0 && chunk < head.vocabSize;

/** The reference of a maintain term from the full model's hidden rows (no gradient), a chunk per step; caller disposes. */
export function* referenceSteps(head: VocabHead, hiddenRef: tf.Tensor2D, chunk: number): Generator<void, KlReference> {
  if (isChunked(chunk, head)) return { kind: 'chunked', chunked: yield* chunkedReferenceSteps(head, hiddenRef, chunk) };
  return { kind: 'logProbs', logProbs: tf.tidy(() => tf.logSoftmax(logitsOf(head, hiddenRef), 1) as tf.Tensor2D) };
}

export const referenceFromHidden = (head: VocabHead, hiddenRef: tf.Tensor2D, chunk: number): KlReference => drain(referenceSteps(head, hiddenRef, chunk));

export function uniformReference(head: VocabHead, chunk: number): KlReference {
  return isChunked(chunk, head) ? { kind: 'uniform', chunked: uniformChunkedReference(head) } : { kind: 'uniform' };
}

/**
 * The batchmean KL at `hidden` and its gradient w.r.t. `hidden` times `scale`, outside any tape
 * (a training step backpropagates it by hand), a vocabulary chunk per step; the same numbers
 * as differentiating `klLoss`. Caller disposes both.
 */
export function* klValueAndGradSteps(head: VocabHead, hidden: tf.Tensor2D, reference: KlReference, chunk: number, scale: number): Generator<void, { value: tf.Scalar; grad: tf.Tensor2D }> {
  const chunked = reference.kind === 'logProbs' ? undefined : reference.chunked;
  if (!chunked) {
    return tf.tidy(() => {
      const { value, grad } = tf.valueAndGrad((h: tf.Tensor) => klLoss(head, h as tf.Tensor2D, reference, chunk))(hidden);
      return { value, grad: tf.mul(grad, scale) as tf.Tensor2D };
    });
  }
  const lse = yield* logSumExpSteps(head, hidden, chunk);
  try {
    const qe = yield* expectedEmbeddingSteps(head, hidden, lse, chunk);
    try {
      return { value: chunkedKlValue(chunked, hidden, lse), grad: chunkedKlGrad(chunked, qe, scale) };
    } finally {
      qe.dispose();
    }
  } finally {
    lse.dispose();
  }
}

/** Batchmean KL(reference ‖ remaining) at the given hidden rows; chunked when the reference is. */
export function klLoss(head: VocabHead, hidden: tf.Tensor2D, reference: KlReference, chunk: number): tf.Scalar {
  if (reference.kind === 'logProbs') return tf.tidy(() => klFromLogits(reference.logProbs, logitsOf(head, hidden)));
  if (reference.chunked) return chunkedKl(head, hidden, reference.chunked, chunk);
  return tf.tidy(() => klUniformFromLogits(logitsOf(head, hidden)));
}
