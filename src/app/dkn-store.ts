/**
 * The degeneracy view's state: the degenerate-knowledge-neuron analysis of the current fact
 * (run in the worker, with progress and cancel) and the suppression of one cluster at a time.
 */
import { create } from 'zustand';
import type { DknResult } from '../core/degeneracy/dkn';
import type { IgBaseline } from '../core/knowledge/riemann';
import type { Neuron } from '../core/knowledge/refine';
import type { AnswerProb } from '../core/knowledge/patching';
import { isCancelled } from '../worker/client';
import { currentPrompts } from './facts-store';
import { engine, toUiError, useLab, type UiError } from './store';

export interface ClusterSuppression {
  /** Index into the result's clusters, or 'all' for every passing cluster together. */
  cluster: number | 'all';
  neurons: Neuron[];
  rows: Array<{ prompt: string; before: AnswerProb; after: AnswerProb }>;
}

export interface DknState {
  /** First layer searched for knowledge neurons (0 = all layers). */
  fromLayer: number;
  /** Where integrated gradients start: zero (the project preset) or AMIG's baseline (the released code). */
  path: IgBaseline;
  running: boolean;
  progress?: { fraction: number; stage: string };
  result?: DknResult;
  /** The prompts and target the result belongs to. */
  fact?: { prompts: string[]; target: string };
  suppression?: ClusterSuppression;
  error?: UiError;

  setFromLayer(layer: number): void;
  setPath(path: IgBaseline): void;
  run(): Promise<void>;
  cancel(): void;
  suppress(cluster: number | 'all'): Promise<void>;
}

let controller: AbortController | undefined;

export const useDkn = create<DknState>()((set, get) => ({
  fromLayer: 0,
  path: 'zero',
  running: false,

  setFromLayer(fromLayer) {
    set({ fromLayer });
  },

  setPath(path) {
    set({ path });
  },

  async run() {
    const { target, model } = useLab.getState();
    const prompts = currentPrompts();
    if (!model) return;
    controller?.abort();
    controller = new AbortController();
    set({ running: true, error: undefined, result: undefined, suppression: undefined, progress: { fraction: 0, stage: 'start' } });
    const nLayer = model.shape.nLayer;
    const layers: [number, number] | undefined = get().fromLayer > 0 ? [Math.min(get().fromLayer, nLayer - 1), nLayer - 1] : undefined;
    try {
      const result = await engine().call('degeneracy', { prompts, target, options: { path: get().path, ...(layers ? { layers } : {}) } }, {
        signal: controller.signal,
        onProgress: (p) => set({ progress: { fraction: p.fraction, stage: p.stage } }),
      });
      set({ result, fact: { prompts, target }, running: false, progress: undefined });
    } catch (err) {
      set({ running: false, progress: undefined, error: isCancelled(err) ? undefined : toUiError(err) });
    }
  },

  cancel() {
    controller?.abort();
  },

  async suppress(cluster) {
    const { result, fact } = get();
    if (!result || !fact) return;
    const neurons = cluster === 'all' ? result.bdcs.flat() : result.clusters[cluster].neurons;
    try {
      const out = await engine().call('intervene', { items: fact.prompts.map((prompt) => ({ prompt, target: fact.target })), neurons, scale: 0, site: result.settings.site });
      set({ suppression: { cluster, neurons, rows: out.map((o, i) => ({ prompt: fact.prompts[i], ...o })) }, error: undefined });
    } catch (err) {
      set({ error: toUiError(err) });
    }
  },
}));

// Results belong to the model they were computed on.
useLab.subscribe((state, previous) => {
  if (state.model !== previous.model) useDkn.setState({ result: undefined, fact: undefined, suppression: undefined });
});
