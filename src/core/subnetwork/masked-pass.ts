/**
 * One train-mode sample of the remaining model's mask, and the gradient of KL terms w.r.t. the
 * mask logits accumulated over micro-batches in units of bounded work, outside a tape.
 *
 * Why by hand: a training step must stop for a cancel within a second, but a gradient tape
 * cannot span an await, and on GPT-2 small one step is 11 s. Per sample of the mask:
 *
 *   W_eff = W ⊙ m,  m = 1[soft > 0.5]         once per sample, a matrix per unit
 *   G = Σ_micro-batches ∂L/∂W_eff              matrix products only
 *   ∂L/∂s = (G ⊙ W) ⊙ slope                    once; the tape's own expression (∂L/∂m = ∂L/∂W_eff ⊙ W)
 *
 * so every micro-batch shares the one sample and the elementwise work over all masked weights is
 * not repeated per micro-batch. Per micro-batch, a layer per unit: the layers below the first
 * masked one run once (no mask reaches them) and are shared with the full-model reference; the
 * rest runs forward keeping each layer's input; the KL head gives ∂L/∂h a vocabulary chunk per
 * unit; the backward goes down a layer per unit, recomputing that layer under its own small tape.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError } from '../errors';
import { forward } from '../model/gpt2';
import type { Gpt2Weights } from '../model/weights';
import { embedded, finalRows, type TokenBatch } from './data';
import { disposeReference, klValueAndGradSteps, referenceSteps, type KlReference, type VocabHead } from './losses';
import { logisticNoise, noiseKey, straightThroughParts, type MaskState, type MaskView } from './mask';

export interface KlMicroBatch {
  batch: TokenBatch;
  rows: Array<[number, number]> | 'all';
  /** 'full': the full model's distribution at the same rows; otherwise a fixed reference (uniform). */
  reference: KlReference | 'full';
}

export type TermName = 'suppress' | 'controlKg' | 'controlLm';

/** One KL term of a step: its weight λ, micro-batches, and the rows of the whole batch (its batchmean's divisor). */
export interface KlTerm {
  name: TermName;
  weight: number;
  microBatches: KlMicroBatch[];
  rows: number;
}

/** A step's gradient w.r.t. the logits (by parameter name) and each term's Σ_rows KL. */
export interface StepGradient {
  grads: Map<string, tf.Tensor>;
  sums: Array<{ term: KlTerm; sum: tf.Scalar }>;
}

export interface HeadPlan {
  head: VocabHead;
  /** Vocabulary chunk of the KL (0: whole vocabulary). */
  chunk: number;
  /** Hidden rows per head unit: bounds a whole-vocabulary unit, whose rows are [rows, V]. */
  rowsPerUnit: number;
}

/** Residual entering layer l + 1 from the one entering layer l. */
const layerForward = (weights: Gpt2Weights, x: tf.Tensor, l: number, overrides?: Record<string, tf.Tensor>): tf.Tensor3D =>
  forward(weights, null, { start: { layer: l, residual: x as tf.Tensor3D }, stopAtLayer: l + 1, overrides }) as tf.Tensor3D;

/** Tensors alive between units: freed when done with, and all of them when a cancel closes the generator. */
class Held {
  private readonly tensors = new Set<tf.Tensor>();
  hold<T extends tf.Tensor>(t: T): T {
    this.tensors.add(t);
    return t;
  }
  free(...ts: Array<tf.Tensor | null | undefined>): void {
    for (const t of ts) if (t && this.tensors.delete(t)) t.dispose();
  }
  /** Stops tracking `t`: the caller owns it now. */
  release<T extends tf.Tensor>(t: T): T {
    this.tensors.delete(t);
    return t;
  }
  freeAll(): void {
    for (const t of this.tensors) t.dispose();
    this.tensors.clear();
  }
}

export class MaskedPass {
  /** W ⊙ m by parameter name: the `overrides` of a forward through the sampled model. */
  readonly effective: Record<string, tf.Tensor> = {};
  private readonly slopes = new Map<string, tf.Tensor>();
  private readonly sums = new Map<string, tf.Tensor>();
  private readonly byLayer = new Map<number, string[]>();
  private readonly firstLayer: number;

  private constructor(
    private readonly weights: Gpt2Weights,
    state: MaskState,
  ) {
    for (const e of state.entries) this.byLayer.set(e.layer, [...(this.byLayer.get(e.layer) ?? []), e.name]);
    this.firstLayer = Math.min(...state.layers);
  }

  /** Samples the mask with the noise `sampleNoise(state, key)` would give, a matrix per unit. */
  static *sample(state: MaskState, weights: Gpt2Weights, key: number, view: MaskView): Generator<void, MaskedPass> {
    const pass = new MaskedPass(weights, state);
    let complete = false;
    try {
      for (const [i, e] of state.entries.entries()) {
        const logits = state.logits.get(e.name);
        if (!logits) throw new FactlabError('mask-disposed', `The mask logits of ${e.name} are gone (the mask state was disposed).`);
        const noise = logisticNoise(noiseKey(key, i), e.shape);
        const { mask, slope } = straightThroughParts(logits, noise, state.temperature, view);
        noise.dispose();
        pass.effective[e.name] = tf.mul(weights.params.get(e.name)!, mask);
        mask.dispose();
        pass.slopes.set(e.name, slope);
        yield;
      }
      complete = true;
      return pass;
    } finally {
      if (!complete) pass.dispose();
    }
  }

  /**
   * Adds ∂(scale · Σ_rows KL)/∂W_eff of one micro-batch to the pass; returns Σ_rows KL (caller
   * disposes). `scale` = λ / (rows of the whole term) weighs every row as the unsplit batchmean does.
   */
  *microBatch(mb: KlMicroBatch, plan: HeadPlan, scale: number): Generator<void, tf.Scalar> {
    const { weights, firstLayer } = this;
    const { batch, rows } = mb;
    const nLayer = weights.config.nLayer;
    const held = new Held();
    try {
      let x = held.hold(embedded(weights, batch));
      for (let l = 0; l < firstLayer; l++) {
        const next = held.hold(layerForward(weights, x, l));
        held.free(x);
        x = next;
        yield;
      }
      let hRef: tf.Tensor2D | null = null;
      if (mb.reference === 'full') {
        let r = x;
        for (let l = firstLayer; l < nLayer; l++) {
          const next = held.hold(layerForward(weights, r, l));
          if (r !== x) held.free(r);
          r = next;
          yield;
        }
        hRef = held.hold(finalRows(weights, r, batch, rows));
        if (r !== x) held.free(r);
      }
      const inputs = [x];
      for (let l = firstLayer; l < nLayer; l++) {
        inputs.push(held.hold(layerForward(weights, inputs[inputs.length - 1], l, this.effective)));
        yield;
      }
      const top = inputs.pop()!;
      const h = held.hold(finalRows(weights, top, batch, rows));
      const { value, grad } = yield* headSteps(plan, h, hRef, mb.reference === 'full' ? null : mb.reference, scale);
      held.hold(value);
      held.hold(grad);
      held.free(h, hRef);
      let dy: tf.Tensor | null = held.hold(tf.grads((t: tf.Tensor) => finalRows(weights, t, batch, rows))([top], grad)[0]);
      held.free(grad, top);
      yield;
      for (let l = nLayer - 1; l >= firstLayer; l--) {
        const input = inputs[l - firstLayer];
        const names = this.byLayer.get(l) ?? [];
        // The lowest layer needs no input gradient: nothing below it is masked.
        const withInput = l > firstLayer;
        const xs = [...(withInput ? [input] : []), ...names.map((n) => this.effective[n])];
        const offset = withInput ? 1 : 0;
        const layerOf = (...args: tf.Tensor[]) => layerForward(weights, withInput ? args[0] : input, l, Object.fromEntries(names.map((n, i) => [n, args[offset + i]])));
        const grads = tf.grads(layerOf)(xs, dy!);
        names.forEach((n, i) => this.add(n, grads[offset + i]));
        held.free(dy, input);
        dy = withInput ? held.hold(grads[0]) : null;
        yield;
      }
      return held.release(value);
    } finally {
      held.freeAll();
    }
  }

  private add(name: string, g: tf.Tensor): void {
    const before = this.sums.get(name);
    if (!before) return void this.sums.set(name, g);
    this.sums.set(name, tf.add(before, g));
    before.dispose();
    g.dispose();
  }

  /** Adds the chain rule's ∂L/∂s = (G ⊙ W) ⊙ slope into `into` (by parameter name), a matrix per unit. */
  *addLogitGradients(into: Map<string, tf.Tensor>): Generator<void, void> {
    for (const [name, g] of this.sums) {
      const before = into.get(name);
      const slope = this.slopes.get(name)!;
      into.set(name, tf.tidy(() => {
        const d = tf.mul(tf.mul(g, this.weights.params.get(name)!), slope);
        return before ? tf.add(before, d) : d;
      }));
      before?.dispose();
      yield;
    }
  }

  dispose(): void {
    for (const t of [...Object.values(this.effective), ...this.slopes.values(), ...this.sums.values()]) t.dispose();
    this.slopes.clear();
    this.sums.clear();
  }
}

/**
 * The gradient of Σ_terms λ·KL w.r.t. the mask logits, a unit of bounded work per yield. Each
 * term's micro-batches share one mask sample, keyed by `noise(term index)`, or by `noise` for the
 * whole step; each row weighs λ/rows of its term, so the sum is the unsplit batchmean's.
 */
export function* klGradientSteps(state: MaskState, weights: Gpt2Weights, terms: KlTerm[], noise: number | ((term: number) => number), plan: HeadPlan): Generator<void, StepGradient> {
  const out: StepGradient = { grads: new Map(), sums: [] };
  const sample = (key: number) => MaskedPass.sample(state, weights, key, 'remaining');
  const passes = new Set<MaskedPass>();
  let complete = false;
  try {
    const shared = typeof noise === 'number' ? yield* sample(noise) : null;
    if (shared) passes.add(shared);
    for (const [index, term] of terms.entries()) {
      const pass = shared ?? (yield* sample((noise as (term: number) => number)(index)));
      passes.add(pass);
      for (const mb of term.microBatches) {
        const sum = yield* pass.microBatch(mb, plan, term.weight / term.rows);
        const last = out.sums[out.sums.length - 1];
        if (last?.term !== term) out.sums.push({ term, sum });
        else {
          const before = last.sum;
          last.sum = tf.add(before, sum);
          tf.dispose([before, sum]);
        }
      }
      if (pass === shared) continue;
      yield* pass.addLogitGradients(out.grads);
      pass.dispose();
      passes.delete(pass);
    }
    if (shared) yield* shared.addLogitGradients(out.grads);
    complete = true;
    return out;
  } finally {
    for (const pass of passes) pass.dispose();
    if (!complete) {
      for (const g of out.grads.values()) g.dispose();
      for (const { sum } of out.sums) sum.dispose();
    }
  }
}

/**
 * Σ_rows KL at the hidden rows `h` and ∂(scale · Σ_rows KL)/∂h, `plan.rowsPerUnit` rows at a time;
 * the reference is `fixed`, or the full model's distribution at the rows `hRef`.
 */
function* headSteps(plan: HeadPlan, h: tf.Tensor2D, hRef: tf.Tensor2D | null, fixed: KlReference | null, scale: number): Generator<void, { value: tf.Scalar; grad: tf.Tensor2D }> {
  const { head, chunk, rowsPerUnit } = plan;
  const total = h.shape[0];
  const held = new Held();
  const grads: tf.Tensor2D[] = [];
  let sum: tf.Scalar | null = null;
  try {
    for (let start = 0; start < total; start += rowsPerUnit) {
      const n = Math.min(rowsPerUnit, total - start);
      const part = (t: tf.Tensor2D) => (n === total ? t : held.hold(tf.slice(t, [start, 0], [n, t.shape[1]]) as tf.Tensor2D));
      let reference = fixed;
      try {
        if (!reference) reference = yield* referenceSteps(head, part(hRef!), chunk);
        // batchmean over the n rows: times n for their sum
        const { value, grad } = yield* klValueAndGradSteps(head, part(h), reference, chunk, scale * n);
        grads.push(grad);
        const before: tf.Scalar | null = sum;
        sum = tf.tidy(() => (before ? tf.add(before, tf.mul(value, n)) : tf.mul(value, n)) as tf.Scalar);
        before?.dispose();
        value.dispose();
      } finally {
        if (reference && reference !== fixed) disposeReference(reference);
        held.freeAll();
      }
    }
    const grad = grads.length === 1 ? grads.pop()! : (tf.concat(grads) as tf.Tensor2D);
    const value = sum!;
    sum = null;
    return { value, grad };
  } finally {
    sum?.dispose();
    for (const g of grads) g.dispose();
    held.freeAll();
  }
}
