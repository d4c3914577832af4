/**
 * The page's engine client with fake workers: a crashed worker is replaced, calls in flight
 * fail with a clear code, later calls go to the new worker, a crash loop is given up, and
 * unsolicited worker events (backend lost) reach the listeners.
 */
import { describe, expect, it } from 'vitest';
import { fallbackBackend } from '../src/app/store';
import { EngineClient, type RestartInfo, type WorkerLike } from '../src/worker/client';
import type { WorkerRequest, WorkerResponse } from '../src/worker/protocol';

/** A worker that records requests and lets the test answer, crash or send events. */
class FakeWorker implements WorkerLike {
  readonly sent: WorkerRequest[] = [];
  terminated = false;
  private readonly listeners: Record<string, Array<(event: never) => void>> = {};

  postMessage(message: unknown): void {
    if (this.terminated) throw new Error('posted to a terminated worker');
    this.sent.push(message as WorkerRequest);
  }
  addEventListener(type: string, listener: (event: never) => void): void {
    (this.listeners[type] ??= []).push(listener);
  }
  terminate(): void {
    this.terminated = true;
  }
  reply(message: WorkerResponse): void {
    for (const l of this.listeners.message ?? []) l({ data: message } as never);
  }
  crash(message = 'Uncaught Error: boom'): void {
    for (const l of this.listeners.error ?? []) l({ message, preventDefault() {} } as never);
  }
  lastCallId(): number {
    const call = [...this.sent].reverse().find((m) => m.kind === 'call');
    return call!.id;
  }
}

function clientWithFakes(): { client: EngineClient; workers: FakeWorker[] } {
  const workers: FakeWorker[] = [];
  const client = new EngineClient(() => {
    const w = new FakeWorker();
    workers.push(w);
    return w;
  });
  return { client, workers };
}

describe('EngineClient: crashed worker', () => {
  it('is replaced; calls in flight fail with worker-restarted and later calls reach the new worker', async () => {
    const { client, workers } = clientWithFakes();
    const restarts: RestartInfo[] = [];
    client.onRestart((info) => restarts.push(info));
    const inFlight = client.call('predict', { prompt: 'a' });
    workers[0].crash('Uncaught RangeError: x');
    await expect(inFlight).rejects.toMatchObject({ code: 'worker-restarted', message: expect.stringContaining('RangeError') });
    expect(workers).toHaveLength(2);
    expect(workers[0].terminated).toBe(true);
    expect(restarts).toEqual([{ reason: 'Uncaught RangeError: x', restarts: 1 }]);

    const next = client.call('listEdits', {});
    expect(workers[1].sent).toEqual([{ kind: 'call', id: workers[1].lastCallId(), method: 'listEdits', args: {} }]);
    workers[1].reply({ kind: 'result', id: workers[1].lastCallId(), result: [] });
    await expect(next).resolves.toEqual([]);
  });

  it('ignores messages and errors from the replaced worker', async () => {
    const { client, workers } = clientWithFakes();
    const first = client.call('predict', { prompt: 'a' });
    workers[0].crash();
    await expect(first).rejects.toMatchObject({ code: 'worker-restarted' });
    const second = client.call('predict', { prompt: 'b' });
    workers[0].reply({ kind: 'error', id: workers[1].lastCallId(), error: { code: 'x', message: 'stale' } });
    workers[0].crash();
    expect(workers).toHaveLength(2);
    workers[1].reply({ kind: 'result', id: workers[1].lastCallId(), result: { ok: true } });
    await expect(second).resolves.toEqual({ ok: true });
  });

  it('gives up after repeated crashes: calls then fail with worker-failed', async () => {
    const { client, workers } = clientWithFakes();
    for (let i = 0; i < 3; i++) workers[workers.length - 1].crash();
    expect(workers).toHaveLength(4);
    workers[3].crash('still broken');
    expect(workers).toHaveLength(4);
    await expect(client.call('listEdits', {})).rejects.toMatchObject({ code: 'worker-failed', message: expect.stringContaining('Reload the page') });
  });

  it('given a worker instance (no factory), a crash fails calls in flight and does not restart', async () => {
    const worker = new FakeWorker();
    const client = new EngineClient(worker);
    const call = client.call('listEdits', {});
    worker.crash();
    await expect(call).rejects.toMatchObject({ code: 'worker-failed' });
  });
});

describe('EngineClient: backend lost', () => {
  it('passes the worker event to listeners; the page falls back to the next backend', () => {
    const { client, workers } = clientWithFakes();
    const events: unknown[] = [];
    client.onEvent((e) => events.push(e));
    workers[0].reply({ kind: 'event', event: { type: 'backend-lost', backend: 'webgpu', reason: 'the GPU device was lost (destroyed)' } });
    expect(events).toEqual([{ type: 'backend-lost', backend: 'webgpu', reason: 'the GPU device was lost (destroyed)' }]);
    expect(fallbackBackend('webgpu')).toBe('wasm');
    expect(fallbackBackend('wasm')).toBe('webgl');
    expect(fallbackBackend('cpu')).toBeUndefined();
  });
});
