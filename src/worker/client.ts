/**
 * The page's side of the engine worker: typed calls that resolve with the result, report
 * progress, and can be cancelled with an AbortSignal. Errors arrive as EngineError with
 * the engine's stable `code` ('cancelled' when the caller aborted).
 */
import type { EngineApi, EngineEvent, Method, Progress, WorkerRequest, WorkerResponse } from './protocol';

export class EngineError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

export function isCancelled(err: unknown): boolean {
  return err instanceof EngineError && err.code === 'cancelled';
}

export interface CallOptions {
  onProgress?(progress: Progress): void;
  signal?: AbortSignal;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: EngineError): void;
  onProgress?(progress: Progress): void;
  cleanup(): void;
}

/** The minimal Worker surface the client needs (lets tests pass a fake). */
export interface WorkerLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  addEventListener(type: 'error', listener: (event: ErrorEvent) => void): void;
  addEventListener(type: 'messageerror', listener: (event: MessageEvent) => void): void;
  terminate(): void;
}

export function createEngineWorker(): Worker {
  return new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'factlab-engine' });
}

/** Why the client replaced its worker, for the page to restore what the old one held. */
export interface RestartInfo {
  reason: string;
  /** Restarts so far, this one included. */
  restarts: number;
}

/** At most this many restarts within RESTART_WINDOW_MS: a worker that keeps crashing is given up. */
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;

export class EngineClient {
  private worker: WorkerLike;
  private readonly createWorker: (() => WorkerLike) | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly eventListeners = new Set<(event: EngineEvent) => void>();
  private readonly restartListeners = new Set<(info: RestartInfo) => void>();
  private readonly restartTimes: number[] = [];
  private restarts = 0;
  private nextId = 1;
  private terminated = false;
  private failure: EngineError | undefined;

  /**
   * With a factory (the default), a worker that crashes (an `error` or `messageerror`
   * event) is replaced by a fresh one: calls in flight reject with code 'worker-restarted'
   * and restart listeners run, so the page can start the backend and reload its model.
   * Given a worker instance, a crash fails every call in flight and nothing restarts.
   */
  constructor(worker: WorkerLike | (() => WorkerLike) = createEngineWorker) {
    this.createWorker = typeof worker === 'function' ? worker : undefined;
    this.worker = this.attach(typeof worker === 'function' ? worker() : worker);
  }

  /** Unsolicited events of the worker (e.g. the GPU device was lost). Returns an unsubscribe function. */
  onEvent(listener: (event: EngineEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Called after the worker was replaced (the new one has no backend and no model yet). */
  onRestart(listener: (info: RestartInfo) => void): () => void {
    this.restartListeners.add(listener);
    return () => this.restartListeners.delete(listener);
  }

  private attach(worker: WorkerLike): WorkerLike {
    // Events of a replaced worker are ignored: only the current one speaks.
    worker.addEventListener('message', (event: MessageEvent) => {
      if (worker === this.worker) this.onMessage(event.data as WorkerResponse);
    });
    worker.addEventListener('error', (event: ErrorEvent) => {
      event.preventDefault?.();
      if (worker === this.worker) this.crashed(event.message || 'it could not be started');
    });
    worker.addEventListener('messageerror', () => {
      if (worker === this.worker) this.crashed('a message from it could not be read');
    });
    return worker;
  }

  private crashed(reason: string): void {
    const now = Date.now();
    while (this.restartTimes.length && now - this.restartTimes[0] > RESTART_WINDOW_MS) this.restartTimes.shift();
    if (!this.createWorker || this.terminated || this.restartTimes.length >= MAX_RESTARTS) {
      this.failure = new EngineError('worker-failed', `The engine worker stopped: ${reason}. Reload the page.`);
      this.failAll(this.failure.code, this.failure.message);
      return;
    }
    this.restartTimes.push(now);
    this.restarts++;
    this.worker.terminate();
    this.worker = this.attach(this.createWorker());
    this.failAll('worker-restarted', `The engine worker crashed (${reason}) and was restarted; the model is being reloaded.`);
    const info = { reason, restarts: this.restarts };
    for (const listener of this.restartListeners) listener(info);
  }

  call<M extends Method>(method: M, args: EngineApi[M][0], opts: CallOptions = {}): Promise<EngineApi[M][1]> {
    if (this.terminated) return Promise.reject(new EngineError('worker-terminated', 'The engine worker has been shut down.'));
    if (this.failure) return Promise.reject(this.failure);
    const { signal, onProgress } = opts;
    if (signal?.aborted) return Promise.reject(cancelledError(method));
    const id = this.nextId++;
    return new Promise<EngineApi[M][1]>((resolve, reject) => {
      const onAbort = () => {
        if (!this.pending.has(id)) return;
        this.pending.get(id)!.cleanup();
        this.post({ kind: 'cancel', id });
        reject(cancelledError(method));
      };
      const entry: Pending = {
        resolve: resolve as (value: unknown) => void,
        reject,
        onProgress,
        cleanup: () => {
          this.pending.delete(id);
          signal?.removeEventListener('abort', onAbort);
        },
      };
      this.pending.set(id, entry);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        this.post({ kind: 'call', id, method, args });
      } catch (err) {
        entry.cleanup();
        reject(new EngineError('bad-request', `Could not send ${method} to the engine: ${(err as Error).message}`));
      }
    });
  }

  /** Stops the worker; every call in flight rejects. */
  terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    this.worker.terminate();
    this.failAll('worker-terminated', 'The engine worker has been shut down.');
  }

  private post(message: WorkerRequest): void {
    this.worker.postMessage(message);
  }

  private onMessage(message: WorkerResponse): void {
    if (!message || typeof message !== 'object') return;
    if (message.kind === 'event') {
      for (const listener of this.eventListeners) listener(message.event);
      return;
    }
    const entry = this.pending.get(message.id);
    // Answers to cancelled calls are dropped here.
    if (!entry) return;
    if (message.kind === 'progress') {
      try {
        entry.onProgress?.(message.progress);
      } catch (err) {
        console.error('factlab: progress callback failed', err);
      }
      return;
    }
    entry.cleanup();
    if (message.kind === 'result') entry.resolve(message.result);
    else entry.reject(new EngineError(message.error.code, message.error.message));
  }

  private failAll(code: string, message: string): void {
    const entries = [...this.pending.values()];
    for (const entry of entries) {
      entry.cleanup();
      entry.reject(new EngineError(code, message));
    }
  }
}

function cancelledError(method: string): EngineError {
  const what: Record<string, string> = { load: 'model loading', predict: 'prediction', init: 'backend start' };
  return new EngineError('cancelled', `The ${what[method] ?? method} was cancelled.`);
}
