/**
 * The lab's state (zustand) and the actions that talk to the engine worker. Everything
 * that computes runs in the worker; this module only sequences calls, keeps the latest
 * answer and drops stale ones.
 */
import { create } from 'zustand';
import type { BackendInfo, BackendName } from '../core/backend';
import type { ModelInfo, PredictResult } from '../core/engine';
import { parseModelSource, type ModelSource } from '../core/hub/source';
import { EngineClient, EngineError, isCancelled } from '../worker/client';
import type { Progress } from '../worker/protocol';

/** The backends a user can force (mirrors core/backend's BACKENDS without importing tfjs here). */
export const BACKEND_CHOICES: readonly BackendName[] = ['webgpu', 'wasm', 'webgl', 'cpu'];

export const EXAMPLE_PROMPT = 'The capital of France is';
export const EXAMPLE_TARGET = ' Paris';

/** Whether the loaded model fills a [MASK] (BERT) rather than continuing the prompt (GPT-2). */
export const isMaskedModel = (): boolean => useLab.getState().model?.objective === 'masked';
export const PREDICT_DEBOUNCE_MS = 150;

export interface UiError {
  code: string;
  message: string;
}

export interface ModelChoice {
  /** What the UI calls it ("default model", "gpt2@main", "folder gpt2"). */
  label: string;
  source: ModelSource;
}

export interface LabState {
  backendStatus: 'starting' | 'ready' | 'error';
  backend?: BackendInfo;
  backendError?: UiError;
  /** Why the backend changed or the worker restarted without being asked (shown until dismissed). */
  backendNotice?: string;
  /** undefined = automatic choice (WebGPU → wasm → WebGL → CPU). */
  forcedBackend?: BackendName;

  /** The model the worker holds now (stays while another one loads). */
  model?: ModelInfo;
  modelChoice?: ModelChoice;
  loading?: { label: string; progress: Progress };
  loadError?: UiError;

  prompt: string;
  target: string;
  prediction?: PredictResult;
  predictError?: UiError;
  predicting: boolean;
  predictMs?: number;

  start(): Promise<void>;
  switchBackend(name: BackendName | undefined): Promise<void>;
  loadModel(choice: ModelChoice): Promise<void>;
  /** Parses what the user typed (Hub repo@revision, URL, "default") and loads it. */
  loadFromText(text: string): Promise<void>;
  cancelLoad(): void;
  setPrompt(prompt: string): void;
  setTarget(target: string): void;
  /** Sets prompt and target together (one prediction). */
  setFact(prompt: string, target: string): void;
  /** Recomputes the prediction now (e.g. after the weights were edited). */
  repredict(): void;
  dismissLoadError(): void;
  dismissBackendNotice(): void;
}

let client: EngineClient | undefined;
/** The one engine worker of the page (started on first use). */
export function engine(): EngineClient {
  if (!client) {
    client = new EngineClient();
    recoverFromEngineFailures(client);
  }
  return client;
}

export const BACKEND_LABELS: Record<BackendName, string> = { webgpu: 'WebGPU', wasm: 'WebAssembly', webgl: 'WebGL', cpu: 'CPU' };

/** The backend to fall back to when `lost` fails (the next in the automatic order), if any. */
export function fallbackBackend(lost: BackendName): BackendName | undefined {
  return BACKEND_CHOICES[BACKEND_CHOICES.indexOf(lost) + 1];
}

/**
 * A crashed worker (the client starts a new one) or a failed backend (lost GPU device, out
 * of memory) costs the worker's backend and model, never the page's state: start a backend
 * again, reload the same model, and say on the page what happened.
 */
function recoverFromEngineFailures(engineClient: EngineClient): void {
  engineClient.onRestart(({ reason }) => {
    useLab.setState({ backendNotice: `The engine worker crashed (${reason}) and was restarted; the model was reloaded. Prompts, facts and results are kept; weight edits were dropped.` });
    void useLab.getState().switchBackend(useLab.getState().forcedBackend);
  });
  engineClient.onEvent((event) => {
    if (event.type !== 'backend-lost') return;
    const next = fallbackBackend(event.backend);
    if (!next) {
      useLab.setState({ backendNotice: `The ${BACKEND_LABELS[event.backend]} backend stopped working: ${event.reason}. No other backend is left; reload the page.` });
      return;
    }
    useLab.setState({ backendNotice: `The ${BACKEND_LABELS[event.backend]} backend stopped working: ${event.reason}. Switched to ${BACKEND_LABELS[next]} and reloaded the model; weight edits were dropped.` });
    void useLab.getState().switchBackend(next);
  });
}

let loadController: AbortController | undefined;
let predictController: AbortController | undefined;
let predictTimer: ReturnType<typeof setTimeout> | undefined;
let predictSeq = 0;
let started = false;

export function toUiError(err: unknown): UiError {
  if (err instanceof EngineError) return { code: err.code, message: err.message };
  if (err && typeof err === 'object' && 'code' in err && 'message' in err) {
    return { code: String((err as { code: unknown }).code), message: String((err as { message: unknown }).message) };
  }
  return { code: 'internal', message: err instanceof Error ? err.message : String(err) };
}

/** `?backend=wasm` in the page URL forces a backend ('auto' or nothing: automatic). */
export function backendFromUrl(search: string): { name?: BackendName; error?: UiError } {
  const value = new URLSearchParams(search).get('backend');
  if (value === null || value === '' || value === 'auto') return {};
  if ((BACKEND_CHOICES as readonly string[]).includes(value)) return { name: value as BackendName };
  return { error: { code: 'bad-backend', message: `Unknown backend "${value}" in the page address; choose one of ${BACKEND_CHOICES.join(', ')} (or auto). Using the automatic choice.` } };
}

function rememberBackendInUrl(name: BackendName | undefined): void {
  try {
    const url = new URL(window.location.href);
    if (name) url.searchParams.set('backend', name);
    else url.searchParams.delete('backend');
    window.history.replaceState(window.history.state, '', url);
  } catch {
    // Not fatal: the choice still applies to this page.
  }
}

const DEFAULT_CHOICE: ModelChoice = { label: 'default model', source: { kind: 'default' } };

export const useLab = create<LabState>()((set, get) => {
  /** Debounced prediction for the current prompt/target; only the newest answer is shown. */
  const schedulePredict = (delay = PREDICT_DEBOUNCE_MS) => {
    if (predictTimer !== undefined) clearTimeout(predictTimer);
    predictTimer = setTimeout(() => {
      predictTimer = undefined;
      void runPredict();
    }, delay);
  };

  const runPredict = async () => {
    const { model, loading, prompt, target } = get();
    if (!model || loading) return;
    predictController?.abort();
    const controller = new AbortController();
    predictController = controller;
    const seq = ++predictSeq;
    set({ predicting: true });
    const started = performance.now();
    try {
      const result = await engine().call('predict', { prompt, target: target === '' ? undefined : target, top: 10 }, { signal: controller.signal });
      if (seq !== predictSeq) return;
      set({ prediction: result, predictError: undefined, predicting: false, predictMs: performance.now() - started });
    } catch (err) {
      if (seq !== predictSeq || isCancelled(err)) return;
      set({ predictError: toUiError(err), prediction: undefined, predicting: false });
    }
  };

  const cancelPredict = () => {
    if (predictTimer !== undefined) clearTimeout(predictTimer);
    predictTimer = undefined;
    predictController?.abort();
    predictController = undefined;
    predictSeq++;
    set({ predicting: false });
  };

  const init = async (name: BackendName | undefined): Promise<boolean> => {
    set({ backendStatus: 'starting', backendError: undefined, forcedBackend: name });
    try {
      const backend = await engine().call('init', { backend: name });
      set({ backendStatus: 'ready', backend });
      return true;
    } catch (err) {
      set({ backendStatus: 'error', backend: undefined, backendError: toUiError(err) });
      return false;
    }
  };

  return {
    backendStatus: 'starting',
    prompt: EXAMPLE_PROMPT,
    target: EXAMPLE_TARGET,
    predicting: false,

    async start() {
      if (started) return;
      started = true;
      const fromUrl = backendFromUrl(window.location.search);
      const ok = await init(fromUrl.name);
      if (fromUrl.error) set({ backendError: fromUrl.error });
      if (ok) await get().loadModel(DEFAULT_CHOICE);
    },

    async switchBackend(name) {
      loadController?.abort();
      cancelPredict();
      rememberBackendInUrl(name);
      const choice = get().modelChoice ?? DEFAULT_CHOICE;
      // The worker drops the model when the backend changes: reload it on the new one.
      set({ model: undefined, prediction: undefined, predictError: undefined, loadError: undefined });
      if (await init(name)) await get().loadModel(choice);
    },

    async loadModel(choice) {
      loadController?.abort();
      cancelPredict();
      const controller = new AbortController();
      loadController = controller;
      set({ loading: { label: choice.label, progress: { fraction: 0, stage: 'start', detail: 'Starting…' } }, loadError: undefined });
      try {
        const info = await engine().call('load', { source: choice.source }, {
          signal: controller.signal,
          onProgress: (progress) => {
            if (loadController === controller) set({ loading: { label: choice.label, progress } });
          },
        });
        if (loadController !== controller) return;
        set({ model: info, modelChoice: choice, loading: undefined, prediction: undefined, predictError: undefined });
        schedulePredict(0);
      } catch (err) {
        if (loadController !== controller) return;
        set({ loading: undefined, loadError: isCancelled(err) ? undefined : toUiError(err) });
        // A failed or cancelled load leaves the previous model in place: keep predicting with it.
        if (get().model) schedulePredict(0);
      } finally {
        if (loadController === controller) loadController = undefined;
      }
    },

    async loadFromText(text) {
      const spec = text.trim();
      let source: ModelSource;
      try {
        source = parseModelSource(spec);
      } catch (err) {
        set({ loadError: toUiError(err) });
        return;
      }
      if (source.kind === 'folder') {
        set({
          loadError: {
            code: 'unsupported-source',
            message: `"${spec}" looks like a folder on disk; the browser cannot read it by name. Drop the folder on the drop zone or use "Choose folder…" instead.`,
          },
        });
        return;
      }
      const label = source.kind === 'hub' ? `${source.repo}@${source.revision}` : source.kind === 'url' ? source.url : source.kind === 'default' && source.arch === 'bert' ? 'default BERT' : 'default model';
      await get().loadModel({ label, source });
    },

    cancelLoad() {
      loadController?.abort();
    },

    setPrompt(prompt) {
      set({ prompt });
      schedulePredict();
    },

    setTarget(target) {
      set({ target });
      schedulePredict();
    },

    setFact(prompt, target) {
      set({ prompt, target });
      schedulePredict();
    },

    repredict() {
      schedulePredict(0);
    },

    dismissLoadError() {
      set({ loadError: undefined });
    },

    dismissBackendNotice() {
      set({ backendNotice: undefined });
    },
  };
});
