/**
 * The knowledge-neuron search: settings, the worker call (progress, cancel), the per-prompt
 * scores it returns, and the live refinement (t, p) computed here in the page with
 * `refineNeurons`, without a worker round-trip. Also the map's view state and the selection.
 */
import { create } from 'zustand';
import type { NeuronSite } from '../core/knowledge/attribution';
import type { FactNeuronsResult, NeuronMethod } from '../core/knowledge/neurons';
import { REFINE_PRESETS, refineNeurons, type Neuron, type PromptAttribution, type RefinePreset, type RefineResult, type RefineSettings } from '../core/knowledge/refine';
import type { IgBaseline, RiemannRule } from '../core/knowledge/riemann';
import { isCancelled } from '../worker/client';
import type { Progress } from '../worker/protocol';
import { currentPrompts, useFacts } from './facts-store';
import { engine, isMaskedModel, toUiError, useLab, type UiError } from './store';

/** The activation baseline's coarse threshold (neurons.ts ACTIVATION_BASELINE_T; not imported: that module pulls in tfjs). */
export const ACTIVATION_T = 0.5;

export interface SearchSettings {
  method: NeuronMethod;
  steps: number;
  rule: RiemannRule;
  site: NeuronSite;
  /** Where integrated gradients start: zero (every preset) or AMIG's baseline (GPT-2 only). */
  baseline: IgBaseline;
  preset: RefinePreset;
  t: number;
  p: number;
  strict: boolean;
  minPrompts: number;
}

/** Attribution settings each preset implies (methods.md, presets table). */
const PRESET_ATTRIBUTION: Record<RefinePreset, { rule: RiemannRule; site: NeuronSite; steps: number; baseline: IgBaseline }> = {
  project: { rule: 'right', site: 'post', steps: 20, baseline: 'zero' },
  'official-kn': { rule: 'left', site: 'post', steps: 20, baseline: 'zero' },
  eleutherai: { rule: 'right', site: 'pre', steps: 20, baseline: 'zero' },
};

export const DEFAULT_SETTINGS: SearchSettings = { method: 'ig', preset: 'project', ...PRESET_ATTRIBUTION.project, ...REFINE_PRESETS.project };

/** A search result with the fact it was computed for. */
export interface SearchResult extends FactNeuronsResult {
  prompts: string[];
  target: string;
  factId?: string;
  relation: string;
  modelId: string;
}

export type MapValue = 'attribution' | 'activation';

export interface NeuronState {
  settings: SearchSettings;
  running: boolean;
  progress?: Progress;
  searchError?: UiError;
  result?: SearchResult;
  /** Refined neurons for the current t and p (recomputed in the page as the sliders move). */
  refined?: RefineResult;
  /** How many times the page refined (tests: the sliders never call the worker). */
  refineCount: number;

  mapValue: MapValue;
  /** undefined = summed over prompts. */
  mapPrompt?: number;
  /** Clean activations per prompt (fetched on first use of the activation view). */
  activation?: PromptAttribution[];
  activationLoading: boolean;
  activationError?: UiError;
  /** Neuron-axis zoom [from, to) (undefined = all). */
  zoom?: [number, number];
  selected?: Neuron;

  setSettings(patch: Partial<SearchSettings>): void;
  applyPreset(preset: RefinePreset): void;
  setRefine(patch: Partial<Pick<SearchSettings, 't' | 'p'>>): void;
  find(): Promise<void>;
  cancel(): void;
  setMapValue(value: MapValue): Promise<void>;
  /** Reads the clean activations of the result's prompts (once per result). */
  loadActivation(): Promise<void>;
  setMapPrompt(prompt: number | undefined): void;
  setZoom(zoom: [number, number] | undefined): void;
  select(neuron: Neuron | undefined): void;
  reset(): void;
}

export function refineSettingsOf(s: SearchSettings): RefineSettings {
  return { t: s.t, p: s.p, strict: s.strict, minPrompts: s.minPrompts };
}

let searchController: AbortController | undefined;
let activationSeq = 0;
let refineFrame: number | undefined;

export const useNeurons = create<NeuronState>()((set, get) => {
  const refine = (result: SearchResult | undefined, settings: SearchSettings) => {
    if (!result) return undefined;
    try {
      return refineNeurons(result.scores, refineSettingsOf(settings));
    } catch {
      return undefined;
    }
  };

  return {
    settings: DEFAULT_SETTINGS,
    running: false,
    refineCount: 0,
    mapValue: 'attribution',
    activationLoading: false,

    setSettings(patch) {
      const settings = { ...get().settings, ...patch };
      if (patch.method && patch.method !== get().settings.method) settings.t = patch.method === 'activation' ? ACTIVATION_T : REFINE_PRESETS[settings.preset].t;
      if (settings.t !== get().settings.t) set({ settings, refined: refine(get().result, settings), refineCount: get().refineCount + 1 });
      else set({ settings });
    },

    applyPreset(preset) {
      const method = get().settings.method;
      const settings: SearchSettings = { method, preset, ...PRESET_ATTRIBUTION[preset], ...REFINE_PRESETS[preset] };
      if (method === 'activation') settings.t = ACTIVATION_T;
      set({ settings, refined: refine(get().result, settings), refineCount: get().refineCount + 1 });
    },

    setRefine(patch) {
      set({ settings: { ...get().settings, ...patch } });
      // A dragged slider fires faster than refining a large model takes: refine once per frame.
      if (refineFrame !== undefined) return;
      refineFrame = requestAnimationFrame(() => {
        refineFrame = undefined;
        set({ refined: refine(get().result, get().settings), refineCount: get().refineCount + 1 });
      });
    },

    async find() {
      const lab = useLab.getState();
      const facts = useFacts.getState();
      if (!lab.model) {
        set({ searchError: { code: 'no-model', message: 'No model is loaded yet: wait for it, or load one above.' } });
        return;
      }
      const prompts = currentPrompts();
      if (prompts.length === 0) {
        set({ searchError: { code: 'empty-prompt', message: 'The fact has no prompts: type at least one prompt above.' } });
        return;
      }
      if (lab.target.trim() === '') {
        set({ searchError: { code: 'empty-target', message: 'The target is empty: type the expected continuation, e.g. " Paris".' } });
        return;
      }
      searchController?.abort();
      const controller = new AbortController();
      searchController = controller;
      const { settings } = get();
      const target = lab.target;
      const model = lab.model;
      set({ running: true, searchError: undefined, progress: { fraction: 0, stage: 'starting' } });
      try {
        const out = await engine().call(
          'factNeurons',
          { prompts, target, method: settings.method, attribution: { steps: settings.steps, rule: settings.rule, site: settings.site, baseline: isMaskedModel() ? 'zero' : settings.baseline }, refine: refineSettingsOf(settings) },
          { signal: controller.signal, onProgress: (progress) => searchController === controller && set({ progress }) },
        );
        if (searchController !== controller) return;
        const result: SearchResult = { ...out, prompts, target, factId: facts.factId, relation: facts.relation, modelId: model.id };
        // The sliders may have moved during the search: refine with their values now.
        const refined = refine(result, get().settings);
        const top = refined?.neurons[0];
        set({
          running: false,
          progress: undefined,
          result,
          refined,
          activation: out.method === 'activation' ? out.scores : undefined,
          activationError: undefined,
          mapValue: 'attribution',
          mapPrompt: undefined,
          zoom: undefined,
          selected: top ? [top.layer, top.index] : undefined,
        });
        activationSeq++;
        // The inspector shows activations next to attributions: read them now (a few forward passes).
        set({ activationLoading: false });
        void get().loadActivation();
      } catch (err) {
        if (searchController !== controller) return;
        set({ running: false, progress: undefined, searchError: isCancelled(err) ? { code: 'cancelled', message: 'The search was cancelled; the previous result (if any) is kept.' } : toUiError(err) });
      } finally {
        if (searchController === controller) searchController = undefined;
      }
    },

    cancel() {
      searchController?.abort();
    },

    async setMapValue(value) {
      set({ mapValue: value });
      if (value === 'activation') await get().loadActivation();
    },

    async loadActivation() {
      const { result, activation, activationLoading } = get();
      if (!result || activation || activationLoading) return;
      const seq = ++activationSeq;
      set({ activationLoading: true, activationError: undefined });
      try {
        const out = await engine().call('factNeurons', {
          prompts: result.prompts,
          target: result.target,
          method: 'activation',
          attribution: { site: result.attribution.site, layers: result.attribution.layers },
        });
        if (seq !== activationSeq) return;
        set({ activation: out.scores, activationLoading: false });
      } catch (err) {
        if (seq !== activationSeq) return;
        set({ activationLoading: false, activationError: toUiError(err), mapValue: 'attribution' });
      }
    },

    setMapPrompt: (mapPrompt) => set({ mapPrompt }),
    setZoom: (zoom) => set({ zoom }),
    select: (selected) => set({ selected }),

    reset() {
      searchController?.abort();
      activationSeq++;
      set({ running: false, progress: undefined, result: undefined, refined: undefined, activation: undefined, activationLoading: false, selected: undefined, zoom: undefined, mapPrompt: undefined, mapValue: 'attribution' });
    },
  };
});

// A result belongs to the model it was computed on: drop it when the model changes.
useLab.subscribe((s, prev) => {
  if (s.model !== prev.model) useNeurons.getState().reset();
});
