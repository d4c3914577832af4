/// <reference lib="webworker" />
/**
 * The engine's dedicated module worker. It holds at most one loaded model and answers
 * the typed protocol of ./protocol.ts: every call gets progress events and then exactly
 * one result or error (as plain `{code, message}`; nothing is ever left unhandled).
 *
 * Calls that touch the model (init, load, predict) run one at a time, in arrival order,
 * so a backend switch or a model swap never happens under a running forward pass. A
 * call cancelled while it waits in that queue never starts; a running one stops at its
 * next cancellation point (model loading checks between and inside file reads).
 */
import wasmPlainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { initBackend, type BackendName } from '../core/backend';
import { backendFailureReason, watchDeviceLoss } from '../core/backend-health';
import { loadEngine, requireGpt2, type Engine } from '../core/engine';
import { CancelledError, describeError, FactlabError, throwIfAborted } from '../core/errors';
import type { CheckpointProgress } from '../core/hub/checkpoint';
import { clearAllCachedModels, clearCachedModel, listCachedModels } from '../core/hub/cache';
import type { EngineApi, Method, Progress, WorkerRequest, WorkerResponse } from './protocol';

declare const self: DedicatedWorkerGlobalScope;

/** Absolute URLs: the wasm loader resolves relative paths against the tfjs bundle, not the page. */
const WASM_PATHS: Record<string, string> = {
  'tfjs-backend-wasm.wasm': absolute(wasmPlainUrl),
  'tfjs-backend-wasm-simd.wasm': absolute(wasmSimdUrl),
  'tfjs-backend-wasm-threaded-simd.wasm': absolute(wasmThreadedSimdUrl),
};

/** The embedded default model, served from public/models/default/ under the app's base URL. */
const DEFAULT_MODEL_URL = new URL(`${import.meta.env.BASE_URL.replace(/\/*$/, '/')}models/default/`, self.location.origin).href;

function absolute(url: string): string {
  return new URL(url, self.location.href).href;
}

let engine: Engine | undefined;
let backendName: BackendName | undefined;
let backendLostReported = false;

/** Tells the page once that the backend failed; it answers by starting another one. */
function backendLost(backend: BackendName, reason: string): void {
  if (backendLostReported) return;
  backendLostReported = true;
  engine?.dispose();
  engine = undefined;
  post({ kind: 'event', event: { type: 'backend-lost', backend, reason } });
}
/** The engine's model-touching calls, chained so that they run one at a time. */
let queue: Promise<unknown> = Promise.resolve();
const controllers = new Map<number, AbortController>();

type Handler<M extends Method> = (args: EngineApi[M][0], ctx: CallContext) => Promise<EngineApi[M][1]>;

interface CallContext {
  signal: AbortSignal;
  progress(p: Progress): void;
}

function serialized<T>(signal: AbortSignal, what: string, run: () => Promise<T>): Promise<T> {
  const next = queue.then(() => {
    throwIfAborted(signal, what);
    return run();
  });
  queue = next.catch(() => undefined);
  return next;
}

/** Runs an operation on the loaded model, in the queue, and honours a cancel that came meanwhile. */
function withEngine<T>(signal: AbortSignal, what: string, run: (e: Engine) => Promise<T>): Promise<T> {
  return serialized(signal, what, async () => {
    if (!engine) throw new FactlabError('no-model', 'No model is loaded yet: load one first.');
    const result = await run(engine);
    throwIfAborted(signal, what);
    return result;
  });
}

const handlers: { [M in Method]: Handler<M> } = {
  init: (args, { signal }) =>
    serialized(signal, 'backend start', async () => {
      // Weights live on the backend that created them: a switch drops the model (the page reloads it).
      engine?.dispose();
      engine = undefined;
      const info = await initBackend({ force: args.backend, wasmPaths: WASM_PATHS });
      watchDeviceLoss((reason) => backendLost(info.name, reason));
      backendName = info.name;
      backendLostReported = false;
      return info;
    }),

  load: (args, { signal, progress }) =>
    serialized(signal, 'model loading', async () => {
      progress({ fraction: 0, stage: 'start', detail: 'Starting…' });
      const next = await loadEngine(args.source, {
        signal,
        defaultLocation: DEFAULT_MODEL_URL,
        onProgress: (p) => progress(toProgress(p)),
      });
      if (signal.aborted) {
        next.dispose();
        throw new CancelledError('model loading');
      }
      // The previous model stays usable until the new one has loaded.
      engine?.dispose();
      engine = next;
      progress({ fraction: 1, stage: 'ready', detail: next.info.id });
      return next.info;
    }),

  predict: (args, { signal }) => withEngine(signal, 'prediction', (e) => e.predict(args)),

  attribute: (args, { signal, progress }) =>
    withEngine(signal, 'attribution', async (e) => {
      const { promptIds, targetIds } = e.encodeFact(args.prompt, args.target);
      let fraction = 0;
      const result = await e.attribute(promptIds, targetIds, args.settings ?? {}, {
        signal,
        onProgress: (p) => {
          fraction = p.fraction;
          progress({ fraction: p.fraction, stage: p.stage, etaSeconds: p.etaSeconds });
        },
        onLayer: (layer) => progress({ fraction, stage: `layer ${layer.layer} done`, layer }),
      });
      return { ...result, tokens: e.tokenView(promptIds) };
    }),

  factNeurons: (args, { signal, progress }) =>
    withEngine(signal, 'knowledge-neuron search', (e) =>
      e.factNeurons(args, { signal, onProgress: (p) => progress({ fraction: p.fraction, stage: p.stage, etaSeconds: p.etaSeconds }) })),

  relationFilter: (args, { signal, progress }) =>
    withEngine(signal, 'relation filter', (e) =>
      e.relationFilter(args, { signal, onProgress: (p) => progress({ fraction: p.fraction, stage: p.stage, etaSeconds: p.etaSeconds }) })),

  degeneracy: (args, { signal, progress }) =>
    withEngine(signal, 'degenerate-neuron search', (e) =>
      e.degeneracy(args, { signal, onProgress: (p) => progress({ fraction: p.fraction, stage: p.stage, etaSeconds: p.etaSeconds }) })),

  intervene: (args, { signal }) => withEngine(signal, 'intervention', (e) => e.intervene(args)),
  neuronInfo: (args, { signal }) => withEngine(signal, 'neuron inspection', (e) => e.neuronInfo(args.neuron, args.top)),
  editFact: (args, { signal }) => withEngine(signal, 'edit', (e) => e.editFact(args)),
  eraseNeurons: (args, { signal }) => withEngine(signal, 'erase', (e) => e.eraseNeurons(args)),
  revertEdit: (args, { signal }) => withEngine(signal, 'revert', (e) => e.revertEdit(args.id)),
  listEdits: async () => engine?.listEdits() ?? [],

  subnetTrain: (args, { signal, progress }) =>
    withEngine(signal, 'subnetwork training', (e) => {
      let fraction = 0;
      return requireGpt2(e, 'subnetwork').subnet.train(args.facts, { profile: 'browser', ...args.options }, {
        signal,
        onProgress: (event) => {
          if (event.kind === 'step') fraction = event.record.step / event.steps;
          progress({ fraction, stage: event.kind, subnet: event });
        },
      });
    }),
  // Not queued: it must reach a training that holds the queue.
  subnetControl: async (args) => {
    if (!engine) throw new FactlabError('no-model', 'No model is loaded yet: load one first.');
    return requireGpt2(engine, 'subnetwork').subnet.control(args.action);
  },
  subnetEvaluate: (args, { signal }) => withEngine(signal, 'subnetwork evaluation', (e) => requireGpt2(e, 'subnetwork').subnet.evaluate(args.facts, { signal })),
  subnetRemove: (args, { signal }) => withEngine(signal, 'subnetwork removal', async (e) => (args.removed ? requireGpt2(e, 'subnetwork').subnet.remove() : requireGpt2(e, 'subnetwork').subnet.restore())),
  subnetStatus: async () => engine?.subnet?.status() ?? { mask: null, removed: false, training: 'idle' },
  subnetExport: (args, { signal }) => withEngine(signal, 'mask export', async (e) => ({ bytes: await requireGpt2(e, 'subnetwork').subnet.exportMask(args.encoding) })),
  subnetImport: (args, { signal }) => withEngine(signal, 'mask import', async (e) => requireGpt2(e, 'subnetwork').subnet.importMask(args.bytes, args.fileName)),

  listCache: async () =>
    (await listCachedModels()).map((m) => ({ id: m.sourceId, files: m.files.map(({ name, bytes }) => ({ name, bytes })), totalBytes: m.totalBytes })),

  clearCache: async (args) => {
    if (args.id !== undefined) return { cleared: await clearCachedModel(args.id) };
    const before = await listCachedModels();
    await clearAllCachedModels();
    return { cleared: before.length };
  },
};

function toProgress(p: CheckpointProgress): Progress {
  const out: Progress = {
    fraction: p.fraction,
    stage: p.stage,
    detail: `${p.stage === 'parse' ? 'Reading' : p.cached ? 'From cache' : 'Downloading'} ${p.file}${p.total ? ` (${formatMB(p.loaded)} / ${formatMB(p.total)})` : p.loaded ? ` (${formatMB(p.loaded)})` : ''}`,
  };
  if (p.etaSeconds !== undefined) out.etaSeconds = p.etaSeconds;
  return out;
}

function formatMB(bytes: number): string {
  return bytes < 1024 * 1024 ? `${Math.max(1, Math.round(bytes / 1024))} kB` : `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function post(message: WorkerResponse, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

/**
 * The ArrayBuffers behind typed arrays in a result, to transfer instead of copy. Results
 * own their arrays (the engine builds them fresh), so detaching them here is safe.
 */
function transferables(value: unknown, out = new Set<ArrayBuffer>(), depth = 0): ArrayBuffer[] {
  if (depth > 6 || value === null || typeof value !== 'object') return [...out];
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer && value.buffer.byteLength > 0) out.add(value.buffer);
  } else if (value instanceof ArrayBuffer) {
    if (value.byteLength > 0) out.add(value);
  } else if (Array.isArray(value)) {
    // Arrays of plain numbers/objects are common and long (token lists): only look at objects.
    for (const item of value) if (item !== null && typeof item === 'object') transferables(item, out, depth + 1);
  } else {
    for (const item of Object.values(value)) transferables(item, out, depth + 1);
  }
  return [...out];
}

async function handleCall(id: number, method: Method, args: unknown): Promise<void> {
  const controller = new AbortController();
  controllers.set(id, controller);
  try {
    const handler = handlers[method] as Handler<Method> | undefined;
    if (!handler) throw new FactlabError('bad-request', `Unknown engine method "${String(method)}".`);
    const ctx: CallContext = {
      signal: controller.signal,
      progress: (progress) => {
        if (!controller.signal.aborted) post({ kind: 'progress', id, progress });
      },
    };
    const result = await handler((args ?? {}) as never, ctx);
    if (controller.signal.aborted) throw new CancelledError();
    post({ kind: 'result', id, result }, transferables(result));
  } catch (err) {
    let error = controller.signal.aborted && !(err instanceof CancelledError) ? describeError(new CancelledError()) : describeError(err);
    const failure = backendName && !(err instanceof FactlabError) ? backendFailureReason(err) : null;
    if (failure && backendName) {
      error = { code: 'backend-lost', message: `The ${backendName} backend failed: ${failure}. Switching to another backend.` };
      backendLost(backendName, failure);
    }
    try {
      post({ kind: 'error', id, error });
    } catch {
      // Nothing more can be done if even posting the error fails.
    }
  } finally {
    controllers.delete(id);
  }
}

self.addEventListener('message', (event: MessageEvent<WorkerRequest>) => {
  const message = event.data;
  if (!message || typeof message !== 'object') return;
  if (message.kind === 'cancel') {
    controllers.get(message.id)?.abort();
    return;
  }
  if (message.kind === 'call') void handleCall(message.id, message.method, message.args);
});

// Last line of defence: report stray failures instead of dying silently.
self.addEventListener('unhandledrejection', (event) => {
  event.preventDefault();
  console.error('factlab worker: unhandled rejection', event.reason);
});
