/**
 * Cancellation between units of bounded work. Long computations (a training step: 11 s on
 * GPT-2 small on wasm) are cut into units; between two units a `UnitGate` checks the signal,
 * and lets the event loop run so that a cancel message sent to the worker can arrive at all
 * (awaiting tensor reads resolves as microtasks, which never let a message in).
 *
 * The yield is a zero-delay timer, but only once `yieldEveryMs` have passed since the last one:
 * browsers clamp nested timers to 4 ms, which paid at each of a small model's many tiny units
 * would slow its training by ~10%; the latency a cancel waits grows by at most that interval.
 * The signal is read exactly once per boundary, so the k-th check is the k-th boundary.
 */
import { throwIfAborted, yieldToEventLoop } from '../errors';

/** Runs a stepwise computation (see `drive`) to its end without pausing. */
export function drain<T>(steps: Generator<unknown, T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

export class UnitGate {
  private lastYield = performance.now();

  /** `hold`, when given, runs at every boundary: a pause waits there, inside the step, for a resume. */
  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly what: string,
    private readonly hold?: () => Promise<void>,
    private readonly yieldEveryMs = 100,
  ) {}

  /** Between two units: let messages in when due, throw CancelledError if aborted, then wait out a pause. */
  async boundary(): Promise<void> {
    if (performance.now() - this.lastYield >= this.yieldEveryMs) {
      await yieldToEventLoop();
      this.lastYield = performance.now();
    }
    throwIfAborted(this.signal, this.what);
    if (this.hold) {
      await this.hold();
      this.lastYield = performance.now();
    }
  }

  /**
   * Runs a generator that yields after each unit, with a boundary at every yield. On a cancel the
   * generator is closed (`return()`), so its `finally` blocks free the tensors it holds.
   */
  async drive<T>(steps: Generator<unknown, T>): Promise<T> {
    try {
      for (;;) {
        const next = steps.next();
        if (next.done) return next.value;
        await this.boundary();
      }
    } finally {
      steps.return(undefined as T);
    }
  }
}
