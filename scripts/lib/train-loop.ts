/**
 * The step loop of factlab's training scripts: progress lines, resumable checkpoints every
 * `saveEvery` steps and at a `--stop-after` boundary, and a quick evaluation now and then.
 */
import * as tf from '@tensorflow/tfjs';
import { learningRateAt, type AdamWSettings, type OptimizerState, type RowBatch } from './train-optim';

export interface TrainingLoop<B extends RowBatch> {
  trainer: { step(params: Map<string, tf.Variable>, state: OptimizerState, batch: B, s: AdamWSettings): Promise<number> };
  params: Map<string, tf.Variable>;
  state: OptimizerState;
  adamw: AdamWSettings;
  /** The run's length (the schedule's end), not this invocation's. */
  totalSteps: number;
  startStep: number;
  /** Train at most this many steps in this invocation. */
  stopAfter?: number;
  batchAt: (step: number) => B;
  saveEvery: number;
  evalEvery: number;
  save: (step: number) => void;
  evaluate: (step: number) => Promise<void>;
  /** Date.now() at the start of the script, for the elapsed minutes in the log. */
  started: number;
}

/** Runs steps until the end of training or the stop-after boundary; returns the step reached. */
export async function runTrainingLoop<B extends RowBatch>(loop: TrainingLoop<B>): Promise<number> {
  const { totalSteps } = loop;
  let step = loop.startStep;
  const stopAt = loop.stopAfter !== undefined ? Math.min(totalSteps, step + loop.stopAfter) : totalSteps;
  let windowStart = performance.now();
  let windowTokens = 0;
  let windowLoss = 0;
  let windowSteps = 0;
  while (step < stopAt) {
    const batch = loop.batchAt(step);
    windowLoss += await loop.trainer.step(loop.params, loop.state, batch, loop.adamw);
    windowTokens += batch.tokens.length * batch.tokens[0].length;
    windowSteps++;
    step++;
    if (step % 50 === 0 || step === totalSteps) {
      const seconds = (performance.now() - windowStart) / 1000;
      console.log(`step ${step}/${totalSteps}  loss ${(windowLoss / windowSteps).toFixed(4)}  lr ${learningRateAt(step, loop.adamw).toExponential(2)}  ${(windowTokens / seconds).toFixed(0)} tok/s  ${((Date.now() - loop.started) / 60000).toFixed(1)} min  ${tf.memory().numTensors} tensors`);
      windowStart = performance.now();
      windowTokens = windowLoss = windowSteps = 0;
    }
    if (step % loop.saveEvery === 0 || step === stopAt) loop.save(step);
    if (step % loop.evalEvery === 0 && step < totalSteps) await loop.evaluate(step);
  }
  return step;
}
