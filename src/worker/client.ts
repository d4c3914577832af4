/**
 * The page's side of the engine worker: typed calls that resolve with the result, report
 * progress, and can be cancelled with an AbortSignal. Errors arrive as EngineError with
 * the engine's stable `code` ('cancelled' when the caller aborted).
 */
import type { EngineApi, Method, Progress, WorkerRequest, WorkerResponse } from './protocol';

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

export class EngineClient {
  private readonly worker: WorkerLike;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private terminated = false;

  constructor(worker: WorkerLike = createEngineWorker()) {
    this.worker = worker;
    worker.addEventListener('message', (event: MessageEvent) => this.onMessage(event.data as WorkerResponse));
    worker.addEventListener('error', (event: ErrorEvent) => {
      // A worker that fails to start (or throws at top level) fails every call in flight.
      event.preventDefault?.();
      this.failAll('worker-failed', `The engine worker stopped: ${event.message || 'it could not be started'}. Reload the page.`);
    });
    worker.addEventListener('messageerror', () => {
      this.failAll('worker-failed', 'A message from the engine worker could not be read. Reload the page.');
    });
  }

  call<M extends Method>(method: M, args: EngineApi[M][0], opts: CallOptions = {}): Promise<EngineApi[M][1]> {
    if (this.terminated) return Promise.reject(new EngineError('worker-terminated', 'The engine worker has been shut down.'));
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
