/**
 * Interventions and edits on the fact's knowledge neurons: the suppress/amplify factor and
 * the before/after probabilities (recomputed in the worker, debounced, stale answers
 * dropped), the selected neuron's value-vector projection, and the weight edits with revert.
 */
import { create } from 'zustand';
import type { EditSummary, TokenView } from '../core/engine';
import type { AnswerProb } from '../core/knowledge/patching';
import type { Neuron } from '../core/knowledge/refine';
import { isCancelled } from '../worker/client';
import type { EditRecipe } from './permalink';
import { useFacts } from './facts-store';
import { controlFacts, relationSample, type ControlItem } from './knowledge';
import { refineSettingsOf, useNeurons } from './neuron-store';
import { engine, isMaskedModel, toUiError, useLab, type UiError } from './store';

export const INTERVENE_DEBOUNCE_MS = 120;

export type Scope = 'refined' | 'selected';

export interface BarItem {
  kind: 'own' | 'control';
  label: string;
  prompt: string;
  target: string;
}

export interface NeuronInfo {
  neuron: Neuron;
  valueNorm: number;
  promotes: Array<TokenView & { logit: number }>;
  suppresses: Array<TokenView & { logit: number }>;
}

export interface InterventionState {
  scale: number;
  scope: Scope;
  items: BarItem[];
  bars?: Array<{ item: BarItem; before: AnswerProb; after: AnswerProb }>;
  /** The neuron set, factor and weight edits (ids) the bars were computed with. */
  barsFor?: { neurons: Neuron[]; scale: number; edits: string[] };
  pending: boolean;
  interveneError?: UiError;

  info?: NeuronInfo;
  infoError?: UiError;

  edits: EditSummary[];
  /** How each active edit was made, in order, so that a link can replay them. */
  recipes: Array<{ id: string; recipe: EditRecipe }>;
  editBusy: boolean;
  editError?: UiError;
  revertError?: UiError;

  setScale(scale: number): void;
  setScope(scope: Scope): void;
  /** The neurons the factor and the edits act on. */
  chosenNeurons(): Neuron[];
  schedule(delay?: number): void;
  loadInfo(): Promise<void>;
  /** Updates the fact through the chosen neurons; with `relationFilter`, only those in ≤ 10% of the relation's facts (D5). */
  updateFact(newTarget: string, relationFilter?: boolean): Promise<void>;
  /** What the last relation filter kept, or its progress while it runs. */
  filterNote?: string;
  erase(): Promise<void>;
  /** Applies one edit (from the buttons or a link); false when it failed (editError says why). */
  applyRecipe(recipe: EditRecipe): Promise<boolean>;
  revert(id?: string): Promise<void>;
}

let timer: ReturnType<typeof setTimeout> | undefined;
let controller: AbortController | undefined;
let seq = 0;
let infoSeq = 0;
let infoTimer: ReturnType<typeof setTimeout> | undefined;

function itemsFor(): { items: BarItem[]; controls: ControlItem[] } {
  const { result } = useNeurons.getState();
  if (!result) return { items: [], controls: [] };
  const { library } = useFacts.getState();
  const own: BarItem[] = result.prompts.map((prompt, i) => ({ kind: 'own', label: `prompt ${i + 1}`, prompt, target: result.target }));
  const key = result.factId ?? `${result.prompts[0]}|${result.target}`;
  const controls = controlFacts(library, key, result.factId ? result.relation : undefined, isMaskedModel(), 5).filter((c) => c.factId !== result.factId);
  return { items: [...own, ...controls.map((c): BarItem => ({ kind: 'control', label: c.label, prompt: c.prompt, target: c.target }))], controls };
}

export const useIntervention = create<InterventionState>()((set, get) => ({
  scale: 0,
  scope: 'refined',
  items: [],
  pending: false,
  edits: [],
  recipes: [],
  editBusy: false,

  setScale(scale) {
    set({ scale });
    get().schedule();
  },

  setScope(scope) {
    set({ scope });
    get().schedule();
  },

  chosenNeurons() {
    const { refined, selected } = useNeurons.getState();
    if (get().scope === 'selected') return selected ? [selected] : [];
    return (refined?.neurons ?? []).map((n): Neuron => [n.layer, n.index]);
  },

  schedule(delay = INTERVENE_DEBOUNCE_MS) {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void run();
    }, delay);

    async function run() {
      const { result } = useNeurons.getState();
      controller?.abort();
      const mine = ++seq;
      if (!result || !useLab.getState().model) {
        set({ bars: undefined, items: [], pending: false });
        return;
      }
      const { items } = itemsFor();
      const neurons = get().chosenNeurons();
      const scale = get().scale;
      const edits = get().edits.map((e) => e.id);
      const c = new AbortController();
      controller = c;
      set({ pending: true, items });
      try {
        const out = await engine().call('intervene', { items: items.map(({ prompt, target }) => ({ prompt, target })), neurons, scale, site: result.attribution.site }, { signal: c.signal });
        if (mine !== seq) return;
        set({ bars: out.map((o, i) => ({ item: items[i], ...o })), barsFor: { neurons, scale, edits }, pending: false, interveneError: undefined });
      } catch (err) {
        if (mine !== seq || isCancelled(err)) return;
        set({ pending: false, interveneError: toUiError(err), bars: undefined });
      }
    }
  },

  async loadInfo() {
    const { selected } = useNeurons.getState();
    const mine = ++infoSeq;
    if (!selected || !useLab.getState().model) {
      set({ info: undefined, infoError: undefined });
      return;
    }
    try {
      const info = await engine().call('neuronInfo', { neuron: selected, top: 8 });
      if (mine !== infoSeq) return;
      set({ info, infoError: undefined });
    } catch (err) {
      if (mine !== infoSeq) return;
      set({ info: undefined, infoError: toUiError(err) });
    }
  },

  async updateFact(newTarget, relationFilter = false) {
    const { result, settings } = useNeurons.getState();
    if (!result) return;
    if (newTarget.trim() === '') {
      set({ editError: { code: 'empty-target', message: 'Type the new object first, e.g. " Lyon".' } });
      return;
    }
    let neurons = get().chosenNeurons();
    if (relationFilter) {
      const relationFacts = relationSample(useFacts.getState().library, result.relation, result.factId, isMaskedModel());
      set({ editBusy: true, editError: undefined, filterNote: `Finding the knowledge neurons of ${relationFacts.length} facts of the relation…` });
      try {
        const attribution = { steps: result.attribution.steps, rule: result.attribution.rule, site: result.attribution.site };
        const filtered = await engine().call('relationFilter', { neurons, relationFacts, attribution, refine: refineSettingsOf(settings) }, {
          onProgress: (p) => set({ filterNote: `Relation filter: ${p.stage} (${Math.round(100 * p.fraction)}%)` }),
        });
        set({ filterNote: `The ≤ 10% relation filter kept ${filtered.kept.length} of ${neurons.length} neurons (neurons of ${filtered.facts} facts of the relation).` });
        neurons = filtered.kept;
      } catch (err) {
        set({ editBusy: false, filterNote: undefined, editError: toUiError(err) });
        return;
      } finally {
        set({ editBusy: false });
      }
    }
    await get().applyRecipe({ kind: 'update', prompt: result.prompts[0], target: result.target, newTarget, neurons });
  },

  async erase() {
    const { result } = useNeurons.getState();
    const neurons = get().chosenNeurons();
    const label = result ? `${result.target.trim()} (${neurons.length} neuron${neurons.length === 1 ? '' : 's'})` : undefined;
    await get().applyRecipe(label === undefined ? { kind: 'erase', neurons } : { kind: 'erase', neurons, label });
  },

  async applyRecipe(recipe) {
    if (recipe.neurons.length === 0) {
      set({ editError: { code: 'bad-neurons', message: 'There are no neurons to edit: find knowledge neurons first (or lower t or p), or select a neuron and choose "selected neuron".' } });
      return false;
    }
    set({ editBusy: true, editError: undefined });
    try {
      const before = new Set(get().edits.map((e) => e.id));
      const edits =
        recipe.kind === 'update'
          ? await engine().call('editFact', { prompt: recipe.prompt, target: recipe.target, newTarget: recipe.newTarget, neurons: recipe.neurons })
          : await engine().call('eraseNeurons', { neurons: recipe.neurons, label: recipe.label });
      const added = edits.filter((e) => !before.has(e.id)).map((e) => ({ id: e.id, recipe }));
      set({ edits, recipes: [...keepActive(get().recipes, edits), ...added], editBusy: false });
      afterEdit();
      return true;
    } catch (err) {
      set({ editBusy: false, editError: toUiError(err) });
      return false;
    }
  },

  async revert(id) {
    set({ editBusy: true, revertError: undefined });
    try {
      const edits = await engine().call('revertEdit', id === undefined ? {} : { id });
      set({ edits, recipes: keepActive(get().recipes, edits), editBusy: false });
      afterEdit();
    } catch (err) {
      set({ editBusy: false, revertError: toUiError(err) });
    }
  },
}));

function keepActive(recipes: InterventionState['recipes'], edits: EditSummary[]): InterventionState['recipes'] {
  const active = new Set(edits.map((e) => e.id));
  return recipes.filter((r) => active.has(r.id));
}

/** Everything that shows the model's output is recomputed under the new weights. */
function afterEdit(): void {
  useLab.getState().repredict();
  useIntervention.getState().schedule(0);
  void useIntervention.getState().loadInfo();
}

// Re-run the before/after view whenever its inputs change.
useNeurons.subscribe((s, prev) => {
  const st = useIntervention.getState();
  if (s.result !== prev.result) st.schedule(0);
  else if (s.refined !== prev.refined && st.scope === 'refined') st.schedule();
  else if (s.selected !== prev.selected && st.scope === 'selected') st.schedule();
  if (s.selected !== prev.selected) {
    // Holding an arrow key moves the selection fast: ask the worker once it settles.
    if (infoTimer !== undefined) clearTimeout(infoTimer);
    infoTimer = setTimeout(() => {
      infoTimer = undefined;
      void useIntervention.getState().loadInfo();
    }, 80);
  }
});

// A new model has no edits (the worker made a fresh engine).
useLab.subscribe((s, prev) => {
  if (s.model !== prev.model) {
    useIntervention.setState({ edits: [], recipes: [], bars: undefined, items: [], info: undefined, editError: undefined, revertError: undefined, interveneError: undefined });
  }
});
