/**
 * Progress of subnetwork training: per-step records, evaluation records, the events a run
 * emits, and the controller that pauses, resumes or stops it from outside.
 */
import type { MaskState } from './mask';
import type { SubnetTrainer } from './trainer';
import type { KgScore } from './metrics';

export interface StepLosses {
  /** Unweighted terms; null when the term's weight is 0 or it has no data. */
  suppress: number | null;
  controlKg: number | null;
  controlLm: number | null;
  /** mean σ(s), the expected subnetwork density. */
  density: number;
  /** The weighted total that was minimized. */
  total: number;
}

export interface StepRecord {
  /** Steps completed (1-based). */
  step: number;
  lr: number;
  lambdaReg: number;
  losses: StepLosses;
  /** Fraction of zero entries of the eval mask 1[s > 0] after the step. */
  sparsity: number;
}

export interface EvalRecord {
  step: number;
  sparsity: number;
  /** The remaining model with eval-mode masks. */
  target: KgScore;
  control: KgScore;
}

export type SubnetProgress =
  | { kind: 'step'; steps: number; record: StepRecord; seconds: number }
  | { kind: 'eval'; record: EvalRecord }
  | { kind: 'checkpoint'; step: number }
  | { kind: 'paused' | 'resumed'; step: number };

/** Pause / resume / stop a running training from outside (the UI, a worker message). */
export class SubnetController {
  private status: 'running' | 'paused' | 'stopped' = 'running';
  private wake: (() => void) | null = null;
  get state(): 'running' | 'paused' | 'stopped' {
    return this.status;
  }
  pause(): void {
    if (this.status === 'running') this.status = 'paused';
  }
  resume(): void {
    if (this.status === 'paused') this.status = 'running';
    this.wake?.();
  }
  /** Ends training after the current step; the result so far is returned, not an error. */
  stop(): void {
    this.status = 'stopped';
    this.wake?.();
  }
  /** Resolves when training may go on: true to continue, false to stop. An abort of `signal` also wakes it. */
  async gate(signal?: AbortSignal): Promise<boolean> {
    const wakeOnAbort = () => this.wake?.();
    signal?.addEventListener('abort', wakeOnAbort);
    try {
      while (this.status === 'paused' && !signal?.aborted) await new Promise<void>((resolve) => (this.wake = resolve));
    } finally {
      signal?.removeEventListener('abort', wakeOnAbort);
      this.wake = null;
    }
    return this.status !== 'stopped';
  }
}

export interface TrainCallbacks {
  onProgress?: (event: SubnetProgress) => void;
  /**
   * Every `checkpointEvery` steps, and once more when a run is stopped; awaited. Export with
   * `exportMaskLogits(state, …)`; `trainer.exportMoments()` gives what an exact resume needs.
   */
  onCheckpoint?: (checkpoint: { step: number; sparsity: number; state: MaskState; trainer: SubnetTrainer }) => void | Promise<void>;
  controller?: SubnetController;
  /** Aborting throws CancelledError (the mask state is disposed); `controller.stop()` ends gracefully. */
  signal?: AbortSignal;
}
