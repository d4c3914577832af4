/**
 * Training knowledge-critical subnetworks (methods.md §5.3–§5.4, D7). Each step:
 *
 *   L = 1.5·KL(U ‖ q̃) on the whole TargetKG + 1.0·KL(p ‖ q̃) on a ControlKG batch
 *     + 1.0·KL(p ‖ q̃) on a ControlLM batch + λ_reg(t)·mean σ(s)
 *
 * with q̃ the remaining model θ ⊙ (1 − m) under train-mode (noisy, straight-through) masks and
 * p the full model, computed without masks and without gradient. Then Adam (ε = 1e−8, only the
 * mask logits) steps with lr 0.2 after a 10% linear warm-up.
 *
 * A step runs as units of bounded work (`settings.unitMacs`) with a cancellation check between
 * them (`UnitGate`): each term's batch is cut into micro-batches that share the term's one noise
 * sample, and their gradients are accumulated (`MaskedPass`), each row weighted 1/rows of the whole
 * term, so the gradient is the unsplit batchmean's. Only the last unit changes anything (Adam, the
 * step count, the data streams): a cancel anywhere before leaves the trainer as the last step left it.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError, throwIfAborted, yieldToEventLoop } from '../errors';
import type { Gpt2Weights } from '../model/weights';
import { makeRng } from '../random';
import { BatchCycler, kgBatch, klRowIndices, lmBlocks, microBatches, padBatch, sequenceOf, type KgItem } from './data';
import { disposeReference, headOf, uniformReference, type KlReference } from './losses';
import { klGradientSteps, type HeadPlan, type KlMicroBatch, type KlTerm, type TermName } from './masked-pass';
import { addDensityGradient, createMaskState, masksForForward, maskSparsity, noiseKey, type MaskState } from './mask';
import { kgScores, type KgScore } from './metrics';
import type { EvalRecord, StepLosses, StepRecord, TrainCallbacks } from './progress';
import { deviationsOf, lambdaRegAt, learningRateAt, resolvedLayers, resolveSettings, unitTokens, type Deviation, type SubnetOptions, type SubnetSettings } from './settings';
import { UnitGate } from './units';

export interface SubnetData {
  /** TargetKG: the knowledge to remove (the whole set is used every step). */
  target: KgItem[];
  /** ControlKG training items (one batch per step, cycled). */
  controlKg: KgItem[];
  /** ControlKG items for progress evaluations; default the first `controlEvalItems` of `controlKg`. */
  controlKgEval?: KgItem[];
  /** ControlLM token stream, cut into `controlLmBlock`-token blocks; without it the LM term is skipped (a recorded deviation). */
  controlLmTokens?: number[];
}

/** Where an interrupted run stopped: its step and Adam moments (`SubnetTrainer.exportMoments`). */
export interface ResumePoint {
  step: number;
  /** Without them Adam restarts from zero moments (recorded as a deviation). */
  moments?: Map<string, { m: Float32Array; v: Float32Array }>;
}

export interface SubnetTrainResult {
  status: 'completed' | 'stopped';
  /** The step this run continued from (absent for a fresh run). */
  resumedFrom?: number;
  modelId?: string;
  settings: SubnetSettings;
  layers: number[];
  /** Every value that differs from the Node defaults (browser profile, data limits). */
  deviations: Deviation[];
  seed: number;
  steps: number;
  data: { target: number; controlKg: number; controlKgEval: number; controlLmBlocks: number };
  curve: StepRecord[];
  evals: EvalRecord[];
  /** The full model on the evaluation items. */
  full: { target: KgScore; control: KgScore };
  sparsity: Awaited<ReturnType<typeof maskSparsity>>;
  seconds: number;
}

const derivedSeed = (seed: number, stream: number) => (Math.imul(seed ^ 0x9e3779b9, stream * 2 + 1) + stream) >>> 0;

/** One training run's state: the mask logits, Adam moments, data streams and RNGs. `dispose()` keeps the mask state if asked. */
export class SubnetTrainer {
  readonly settings: SubnetSettings;
  readonly state: MaskState;
  readonly deviations: Deviation[];
  readonly lmBlocks: number[][];
  readonly controlEval: KgItem[];
  stepsDone = 0;
  private readonly head: ReturnType<typeof headOf>;
  /** The suppression term's reference, a constant (chunked: the mean embedding row). */
  private readonly uniform: KlReference;
  private readonly kgCycler: BatchCycler<KgItem> | null;
  private readonly lmCycler: BatchCycler<number[]> | null;
  private readonly moments: Map<string, { m: tf.Variable; v: tf.Variable }> = new Map();

  constructor(
    readonly weights: Gpt2Weights,
    readonly data: SubnetData,
    options: SubnetOptions = {},
    state?: MaskState,
  ) {
    const s = (this.settings = resolveSettings(options));
    const { config } = weights;
    if (data.target.length === 0) throw new FactlabError('bad-subnet-data', 'TargetKG is empty: there is no knowledge to remove.');
    if (data.controlKg.length === 0 && s.lambdas.controlKg !== 0) throw new FactlabError('bad-subnet-data', 'ControlKG is empty; give control facts or set lambdas.controlKg to 0.');
    if (s.controlLmBlock > config.nPositions) throw new FactlabError('bad-subnet-settings', `controlLmBlock ${s.controlLmBlock} exceeds the model's ${config.nPositions} positions.`);
    const layers = resolvedLayers(s, config.nLayer);
    if (state && state.layers.join() !== layers.join()) throw new FactlabError('bad-mask-layers', `The given mask state covers layers [${state.layers.join(', ')}], the settings ask for [${layers.join(', ')}].`);
    this.state = state ?? createMaskState(config, { layers, initP: s.initP, temperature: s.temperature });
    this.head = headOf(weights);
    this.kgCycler = data.controlKg.length ? new BatchCycler(data.controlKg, s.controlKgBatch, makeRng(derivedSeed(s.seed, 1))) : null;
    this.lmBlocks = data.controlLmTokens ? lmBlocks(data.controlLmTokens, s.controlLmBlock, s.controlLmMaxBlocks) : [];
    if (data.controlLmTokens && this.lmBlocks.length === 0) throw new FactlabError('bad-subnet-data', `The ControlLM text has ${data.controlLmTokens.length} tokens, fewer than one ${s.controlLmBlock}-token block.`);
    this.lmCycler = this.lmBlocks.length ? new BatchCycler(this.lmBlocks, s.controlLmBatch, makeRng(derivedSeed(s.seed, 2))) : null;
    this.controlEval = data.controlKgEval ?? data.controlKg.slice(0, s.controlEvalItems);
    this.deviations = deviationsOf(s, config.nLayer);
    if (!this.lmCycler && s.lambdas.controlLm !== 0) this.deviations.push({ setting: 'controlLm', value: 'none', default: 'WikiText-2 train blocks' });
    if (this.lmBlocks.length && this.lmBlocks.length < s.controlLmMaxBlocks) this.deviations.push({ setting: 'controlLmBlocks', value: this.lmBlocks.length, default: s.controlLmMaxBlocks });
    const zeros = (v: tf.Variable) => {
      const init = tf.zerosLike(v);
      const variable = tf.variable(init, false);
      init.dispose();
      return variable;
    };
    for (const [name, v] of this.state.logits) this.moments.set(name, { m: zeros(v), v: zeros(v) });
    this.uniform = uniformReference(this.head, s.vocabChunk);
  }

  /** Tokens per micro-batch (training) and per forward pass (evaluation), from the unit budget. */
  private get unitTokens() {
    return unitTokens(this.weights.config, this.settings.unitMacs);
  }

  private get headPlan(): HeadPlan {
    const { vocabChunk, unitMacs } = this.settings;
    const { vocabSize, nEmbd } = this.weights.config;
    const width = vocabChunk > 0 && vocabChunk < vocabSize ? vocabChunk : vocabSize;
    // A head unit runs about three [rows, width] × [width, d] products.
    return { head: this.head, chunk: vocabChunk, rowsPerUnit: Math.max(1, Math.floor(unitMacs / (3 * width * nEmbd))) };
  }

  private kgTerm(name: TermName, items: KgItem[], reference: KlMicroBatch['reference'], weight: number): KlTerm {
    const s = this.settings;
    const positions = (item: KgItem) => klRowIndices(item, s.klPosition, s.scoreAllTailTokens);
    const batches = microBatches(items.map(sequenceOf), this.unitTokens.training).map((group) => ({ ...kgBatch(group.map((i) => items[i]), this.weights.config.eosTokenId, positions), reference }));
    return { name, weight, microBatches: batches, rows: batches.reduce((a, b) => a + b.rows.length, 0) };
  }

  private lmTerm(blocks: number[][], weight: number): KlTerm {
    const batches = microBatches(blocks, this.unitTokens.training).map((group) => ({ batch: padBatch(group.map((i) => blocks[i]), 0), rows: 'all' as const, reference: 'full' as const }));
    return { name: 'controlLm', weight, microBatches: batches, rows: blocks.length * blocks[0].length };
  }

  /** This step's KL terms, on batches peeked from the streams (a cancelled step leaves them where they were). */
  private terms(): KlTerm[] {
    const { lambdas } = this.settings;
    const terms: KlTerm[] = [];
    if (lambdas.suppress !== 0) terms.push(this.kgTerm('suppress', this.data.target, this.uniform, lambdas.suppress));
    if (this.kgCycler && lambdas.controlKg !== 0) terms.push(this.kgTerm('controlKg', this.kgCycler.peek(), 'full', lambdas.controlKg));
    if (this.lmCycler && lambdas.controlLm !== 0) terms.push(this.lmTerm(this.lmCycler.peek(), lambdas.controlLm));
    return terms;
  }

  /**
   * The gradient of this step's KL terms w.r.t. the mask logits (by parameter name; the caller
   * disposes it) and their values, run as units of work behind `gate`. Changes nothing.
   */
  async klGradient(gate = new UnitGate(undefined, 'subnetwork training')): Promise<{ grads: Map<string, tf.Tensor>; losses: Pick<StepLosses, TermName> }> {
    await gate.boundary();
    const s = this.settings;
    const t = this.stepsDone;
    // 'per-forward' noise: one sample per term, keyed (seed, step, term index) as when each term was one masked forward pass
    const noise = s.noise === 'per-step' ? noiseKey(s.seed, t) : (index: number) => noiseKey(s.seed, t, index);
    const { grads, sums } = await gate.drive(klGradientSteps(this.state, this.weights, this.terms(), noise, this.headPlan));
    const losses: Pick<StepLosses, TermName> = { suppress: null, controlKg: null, controlLm: null };
    try {
      for (const { term, sum } of sums) losses[term.name] = (await sum.data())[0] / term.rows;
      return { grads, losses };
    } catch (err) {
      for (const g of grads.values()) g.dispose();
      throw err;
    } finally {
      for (const { sum } of sums) sum.dispose();
    }
  }

  /**
   * One optimizer step, cancellable through `signal` between its units of work (CancelledError).
   * A cancelled step changes nothing, so the next `step()` is the one it would have been.
   * `hold` runs at each boundary too, so a pause takes effect within a unit, not after the step.
   */
  async step(signal?: AbortSignal, hold?: () => Promise<void>): Promise<StepRecord> {
    const s = this.settings;
    const t = this.stepsDone;
    const lr = learningRateAt(t, s);
    const lambdaReg = lambdaRegAt(t, s);
    const gate = new UnitGate(signal, 'subnetwork training', hold);
    const { grads, losses: kl } = await this.klGradient(gate);
    let density: number;
    try {
      density = await addDensityGradient(this.state, lambdaReg, grads);
      await gate.boundary(); // the last cancellation point: from here on the step commits
      this.adam(grads, lr, t + 1);
      this.stepsDone++;
      this.kgCycler?.next();
      if (this.lmCycler && s.lambdas.controlLm !== 0) this.lmCycler.next();
    } finally {
      for (const g of grads.values()) g.dispose();
    }
    const total = (kl.suppress ?? 0) * s.lambdas.suppress + (kl.controlKg ?? 0) * s.lambdas.controlKg + (kl.controlLm ?? 0) * s.lambdas.controlLm + density * lambdaReg;
    const sparsity = (await maskSparsity(this.state)).sparsity;
    return { step: this.stepsDone, lr, lambdaReg, losses: { ...kl, density, total }, sparsity };
  }

  /** Adam as in PyTorch: m̂/(√v̂ + ε), bias corrections with step t (1-based). */
  private adam(grads: Map<string, tf.Tensor>, lr: number, t: number): void {
    const { beta1, beta2, epsilon } = this.settings.adam;
    const c1 = 1 - beta1 ** t;
    const c2 = 1 - beta2 ** t;
    for (const [name, s] of this.state.logits) {
      const g = grads.get(name);
      if (!g) continue;
      const { m, v } = this.moments.get(name)!;
      // One tidy per matrix: temporaries of all matrices at once would be several copies of the mask.
      tf.tidy(() => {
        m.assign(tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1)));
        v.assign(tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2)));
        s.assign(tf.sub(s, tf.mul(tf.div(m, tf.add(tf.sqrt(tf.div(v, c2)), epsilon)), lr / c1)));
      });
    }
  }

  /** Options of the evaluations during training: forward passes of a unit's work, cancellable. */
  scoreOptions(signal?: AbortSignal) {
    return { scoreAllTailTokens: this.settings.scoreAllTailTokens, maxTokens: this.unitTokens.evaluation, signal };
  }

  /** The remaining model with eval-mode masks on TargetKG and the ControlKG evaluation items. */
  async evaluate(signal?: AbortSignal): Promise<EvalRecord> {
    const masks = masksForForward(this.state, { mode: 'eval', view: 'remaining' });
    try {
      const options = { ...this.scoreOptions(signal), masks };
      return { step: this.stepsDone, sparsity: (await maskSparsity(this.state)).sparsity, target: await kgScores(this.weights, this.data.target, options), control: await kgScores(this.weights, this.controlEval, options) };
    } finally {
      for (const m of Object.values(masks)) m.dispose();
    }
  }

  /**
   * Continues a run from `point` (the mask state holds its logits): the schedules go on from its
   * step, the data streams skip the batches already drawn, and the noise is keyed by step, so the
   * continuation equals the uninterrupted run when the moments are given.
   */
  restore(point: ResumePoint): void {
    const s = this.settings;
    if (!Number.isInteger(point.step) || point.step < 0 || point.step > s.steps) throw new FactlabError('bad-resume', `Cannot resume at step ${point.step} of a ${s.steps}-step run.`);
    for (let t = 0; t < point.step; t++) {
      this.kgCycler?.next();
      if (this.lmCycler && s.lambdas.controlLm !== 0) this.lmCycler.next();
    }
    this.stepsDone = point.step;
    if (!point.moments) {
      this.deviations.push({ setting: 'resumedAdamMoments', value: 'zero', default: 'restored' });
      return;
    }
    for (const [name, { m, v }] of this.moments) {
      const saved = point.moments.get(name);
      const size = this.state.logits.get(name)!.size;
      if (!saved || saved.m.length !== size || saved.v.length !== size) throw new FactlabError('bad-resume', `The saved optimizer state has no ${size} moments for ${name}.`);
      const shape = m.shape as [number, number];
      tf.tidy(() => {
        m.assign(tf.tensor2d(saved.m, shape));
        v.assign(tf.tensor2d(saved.v, shape));
      });
    }
  }

  /** The Adam moments, for a checkpoint an interrupted run can resume from exactly. */
  async exportMoments(): Promise<Map<string, { m: Float32Array; v: Float32Array }>> {
    const out = new Map<string, { m: Float32Array; v: Float32Array }>();
    for (const [name, { m, v }] of this.moments) out.set(name, { m: (await m.data()) as Float32Array, v: (await v.data()) as Float32Array });
    return out;
  }

  /** Frees the Adam moments, and the mask state too unless `keepState`. */
  dispose(keepState = true): void {
    for (const { m, v } of this.moments.values()) {
      m.dispose();
      v.dispose();
    }
    this.moments.clear();
    disposeReference(this.uniform);
    if (!keepState) for (const v of this.state.logits.values()) v.dispose();
  }
}

/**
 * Trains a subnetwork mask. Resolves with the result and the mask state (the caller owns and
 * disposes it). Pass `state` to continue from imported logits (the optimizer starts afresh).
 */
export async function trainSubnetwork(
  weights: Gpt2Weights,
  data: SubnetData,
  options: SubnetOptions & { modelId?: string; state?: MaskState; resume?: ResumePoint } = {},
  callbacks: TrainCallbacks = {},
): Promise<{ result: SubnetTrainResult; state: MaskState }> {
  const started = Date.now();
  const { modelId, state, resume, ...settings } = options;
  const trainer = new SubnetTrainer(weights, data, settings, state);
  if (resume) trainer.restore(resume);
  const s = trainer.settings;
  const curve: StepRecord[] = [];
  const evals: EvalRecord[] = [];
  let status: SubnetTrainResult['status'] = 'completed';
  const { controller, signal, onProgress } = callbacks;
  try {
    const evalOptions = trainer.scoreOptions(signal);
    const full = { target: await kgScores(weights, data.target, evalOptions), control: await kgScores(weights, trainer.controlEval, evalOptions) };
    const evaluate = async () => {
      const record = await trainer.evaluate(signal);
      evals.push(record);
      onProgress?.({ kind: 'eval', record });
    };
    await evaluate();
    // A pause holds between steps and between a step's units; 'paused' names the last finished step.
    const holdIfPaused = async () => {
      if (controller?.state !== 'paused') return;
      onProgress?.({ kind: 'paused', step: trainer.stepsDone });
      if (await controller.gate(signal)) onProgress?.({ kind: 'resumed', step: trainer.stepsDone });
      throwIfAborted(signal, 'subnetwork training');
    };
    while (trainer.stepsDone < s.steps) {
      throwIfAborted(signal, 'subnetwork training');
      await holdIfPaused();
      if (controller?.state === 'stopped') {
        status = 'stopped';
        break;
      }
      const record = await trainer.step(signal, holdIfPaused);
      curve.push(record);
      onProgress?.({ kind: 'step', steps: s.steps, record, seconds: (Date.now() - started) / 1000 });
      const step = trainer.stepsDone;
      if (step % s.evalEvery === 0 || step === s.steps) await evaluate();
      if (callbacks.onCheckpoint && step % s.checkpointEvery === 0) {
        await callbacks.onCheckpoint({ step, sparsity: record.sparsity, state: trainer.state, trainer });
        onProgress?.({ kind: 'checkpoint', step });
      }
      await yieldToEventLoop(); // let pause/stop/cancel messages in
    }
    if (status === 'stopped' && evals[evals.length - 1]?.step !== trainer.stepsDone) await evaluate();
    if (status === 'stopped' && callbacks.onCheckpoint && trainer.stepsDone % s.checkpointEvery !== 0) await callbacks.onCheckpoint({ step: trainer.stepsDone, sparsity: (await maskSparsity(trainer.state)).sparsity, state: trainer.state, trainer });
    const result: SubnetTrainResult = {
      status, modelId, resumedFrom: resume?.step, settings: s, layers: [...trainer.state.layers], deviations: trainer.deviations, seed: s.seed, steps: trainer.stepsDone,
      data: { target: data.target.length, controlKg: data.controlKg.length, controlKgEval: trainer.controlEval.length, controlLmBlocks: trainer.lmBlocks.length },
      curve, evals, full, sparsity: await maskSparsity(trainer.state), seconds: (Date.now() - started) / 1000,
    };
    trainer.dispose(true);
    return { result, state: trainer.state };
  } catch (err) {
    trainer.dispose(state !== undefined); // a state the caller passed in stays theirs
    throw err;
  }
}
