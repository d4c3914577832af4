/**
 * The lab's state as a link: captured from the stores, kept in the page address (fragment)
 * and in localStorage as it changes, and restored on open by recomputing (model, fact,
 * knowledge-neuron search, selection, interventions, edits, view). A link that names a
 * remote model waits for the user's consent before anything is downloaded.
 */
import { create } from 'zustand';
import { FactlabError } from '../core/errors';
import { parseModelSource, describeSource } from '../core/hub/source';
import { currentPrompts, useFacts } from './facts-store';
import { useDkn } from './dkn-store';
import { useIntervention } from './intervention-store';
import { useNeurons } from './neuron-store';
import { decodeLink, encodeLink, fragmentOf, validateLink, type LabLink, type ViewId } from './permalink';
import { toUiError, useLab, type UiError } from './store';
import { CODE_LAMBDA_REG, useSubnet } from './subnet-store';
import { LAB_VIEWS } from './views';

const STORAGE_KEY = 'factlab:lab-state';
const PERSIST_DEBOUNCE_MS = 400;

export interface LinkState {
  /** The view a link opens at (and the one `?embed=1` shows). */
  view: ViewId;
  embed: boolean;
  status: 'idle' | 'confirm' | 'restoring' | 'restored';
  /** A link naming a remote model, waiting for the user's consent. */
  pending?: { link: LabLink; expected?: SavedNeurons; what: string; pinned: boolean };
  linkError?: UiError;
  restoreStage?: string;
  /** After opening a saved analysis: whether the recomputed knowledge neurons match the file's. */
  verification?: { matches: boolean; message: string };

  setView(view: ViewId): void;
  /** Reads the page address (else localStorage) and restores what it holds. */
  openFromPage(): Promise<void>;
  confirmRemote(): Promise<void>;
  declineRemote(): void;
  dismissLinkError(): void;
  /** Opens an analysis saved by `analysisJson` (recomputes, then checks against the saved neurons). */
  openAnalysis(text: string, fileName: string): Promise<void>;
}

/** The models that ship with the app: a link may load them without asking. */
const EMBEDDED_MODELS = new Set(['default', 'default-bert']);

/** The current analysis as a link state (throws FactlabError when it cannot travel in a link). */
export function captureLink(view: ViewId): LabLink {
  const lab = useLab.getState();
  const facts = useFacts.getState();
  const kn = useNeurons.getState();
  const iv = useIntervention.getState();
  const model = lab.model?.id ?? 'default';
  if (!EMBEDDED_MODELS.has(model) && !model.startsWith('hub:') && !model.startsWith('url:')) {
    throw new FactlabError('link-local-model', 'This model was opened from files on this computer; a link cannot carry them. Links work for the default models, Hub repos and URLs.');
  }
  const result = kn.result;
  const settings = { ...kn.settings, ...(result ? { method: result.method, steps: result.attribution.steps, rule: result.attribution.rule, site: result.attribution.site, baseline: result.attribution.baseline } : {}) };
  const link: LabLink = {
    model,
    prompts: result ? result.prompts : currentPrompts().length ? currentPrompts() : [lab.prompt],
    target: result ? result.target : lab.target,
    fact: { ...(facts.factId ? { id: facts.factId } : {}), subject: facts.subject, relation: facts.relation },
    settings,
    searched: !!result,
    map: { value: kn.mapValue, ...(kn.mapPrompt === undefined ? {} : { prompt: kn.mapPrompt }), ...(kn.zoom ? { zoom: kn.zoom } : {}) },
    intervention: { scale: iv.scale, scope: iv.scope },
    edits: iv.recipes.map((r) => r.recipe),
    view,
  };
  if (kn.selected) link.selected = [kn.selected[0], kn.selected[1]];
  const dkn = useDkn.getState();
  if (dkn.result || dkn.fromLayer > 0 || dkn.path !== 'zero') link.degeneracy = { fromLayer: dkn.fromLayer, ran: !!dkn.result, ...(dkn.path === 'zero' ? {} : { path: dkn.path }) };
  const subnet = useSubnet.getState();
  link.subnetwork = { relation: subnet.targetRelation, query: subnet.targetQuery, steps: subnet.steps, seed: subnet.seed };
  const { init, final } = subnet.lambdaReg;
  if (init !== CODE_LAMBDA_REG.init || final !== CODE_LAMBDA_REG.final) link.subnetwork.lambdaReg = { init, final };
  return link;
}

/** The page address that opens `link` (optionally as a chrome-less embed). */
export function linkUrl(link: LabLink, options: { embed?: boolean } = {}): string {
  const url = new URL(window.location.href);
  url.search = '';
  if (options.embed) url.searchParams.set('embed', '1');
  url.hash = encodeLink(link);
  return url.href;
}

/** Resolves once `check` holds for the lab store; rejects with what went wrong otherwise. */
function whenLab(check: () => boolean, failed: () => UiError | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const test = () => {
      if (check()) return true;
      const error = failed();
      if (error) reject(new FactlabError(error.code, error.message));
      return !!error;
    };
    if (test()) return resolve();
    const stop = useLab.subscribe(() => {
      if (test()) {
        stop();
        if (check()) resolve();
      }
    });
  });
}

function whenLibrary(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => ['ready', 'error'].includes(useFacts.getState().libraryState);
    if (done()) return resolve();
    const stop = useFacts.subscribe(() => {
      if (done()) {
        stop();
        resolve();
      }
    });
  });
}

let suspendPersist = false;
let opened = false;

export const useLink = create<LinkState>()((set, get) => {
  const restore = async (link: LabLink, expected?: SavedNeurons) => {
    suspendPersist = true;
    set({ status: 'restoring', pending: undefined, linkError: undefined, verification: undefined, restoreStage: 'loading the model' });
    try {
      // Let the start-up load (the default model) finish first, then switch if the link says so.
      const settled = () => !!useLab.getState().model && !useLab.getState().loading;
      const failure = () => {
        const s = useLab.getState();
        if (s.backendStatus === 'error') return s.backendError;
        return s.loading ? undefined : s.loadError;
      };
      await whenLab(settled, failure);
      if (useLab.getState().model?.id !== link.model) {
        await useLab.getState().loadFromText(link.model);
        if (useLab.getState().model?.id !== link.model) {
          throw new FactlabError('link-model', `The link's model (${link.model}) did not load: ${useLab.getState().loadError?.message ?? 'the load was cancelled.'}`);
        }
      }
      await whenLibrary();
      set({ restoreStage: 'setting up the fact' });
      // The link's search and edits start from the model's original weights.
      if (useIntervention.getState().edits.length > 0) await useIntervention.getState().revert();
      useFacts.setState({ factId: link.fact.id, subject: link.fact.subject, relation: link.fact.relation, paraphrases: link.prompts.slice(1) });
      useLab.getState().setFact(link.prompts[0], link.target);
      const { method, preset, steps, rule, site, baseline, t, p, strict, minPrompts } = link.settings;
      useNeurons.setState({ settings: { method, preset, steps, rule, site, baseline: baseline ?? 'zero', t, p, strict, minPrompts } });
      useIntervention.setState({ scale: link.intervention.scale, scope: link.intervention.scope });
      if (link.searched) {
        set({ restoreStage: 'finding the knowledge neurons' });
        await useNeurons.getState().find();
        const error = useNeurons.getState().searchError;
        if (error) throw new FactlabError(error.code, error.message);
        const kn = useNeurons.getState();
        kn.select(link.selected);
        kn.setZoom(link.map.zoom);
        kn.setMapPrompt(link.map.prompt);
        await kn.setMapValue(link.map.value);
      }
      for (const [i, recipe] of link.edits.entries()) {
        set({ restoreStage: `replaying edit ${i + 1} of ${link.edits.length}` });
        if (!(await useIntervention.getState().applyRecipe(recipe))) {
          const error = useIntervention.getState().editError;
          throw new FactlabError(error?.code ?? 'edit', `Edit ${i + 1} of the link could not be replayed: ${error?.message ?? 'unknown error'}`);
        }
      }
      useIntervention.getState().schedule(0);
      if (link.subnetwork) {
        const { relation, query, steps, seed, lambdaReg } = link.subnetwork;
        useSubnet.getState().setTarget({ targetRelation: relation, targetQuery: query, steps, seed, lambdaReg: lambdaReg ?? { ...CODE_LAMBDA_REG } });
      }
      if (link.degeneracy) {
        useDkn.getState().setFromLayer(link.degeneracy.fromLayer);
        useDkn.getState().setPath(link.degeneracy.path ?? 'zero');
        if (link.degeneracy.ran) {
          set({ restoreStage: 'finding the degenerate neurons' });
          await useDkn.getState().run();
          const error = useDkn.getState().error;
          if (error) throw new FactlabError(error.code, error.message);
        }
      }
      set({ status: 'restored', view: link.view, restoreStage: undefined, verification: expected ? verify(expected) : undefined });
      scrollToView(link.view);
    } catch (err) {
      set({ status: 'idle', restoreStage: undefined, linkError: toUiError(err) });
    } finally {
      suspendPersist = false;
    }
  };

  const openState = async (fragment: string, fromAddress: boolean) => {
    let link: LabLink;
    try {
      link = decodeLink(fragment);
    } catch (err) {
      // A broken saved state is forgotten quietly; a broken link is the user's to see.
      if (fromAddress) set({ linkError: toUiError(err) });
      else window.localStorage.removeItem(STORAGE_KEY);
      return;
    }
    await open(link);
  };

  /** Restores at once on an embedded model; asks first for a model that must be downloaded. */
  const open = async (link: LabLink, expected?: SavedNeurons) => {
    set({ view: link.view, linkError: undefined });
    if (EMBEDDED_MODELS.has(link.model)) return restore(link, expected);
    const source = parseModelSource(link.model);
    set({ status: 'confirm', pending: { link, expected, what: describeSource(source), pinned: source.kind !== 'hub' || source.pinned } });
  };

  return {
    view: 'lab',
    embed: new URLSearchParams(window.location.search).get('embed') === '1',
    status: 'idle',

    setView: (view) => set({ view }),

    async openFromPage() {
      if (opened) return;
      opened = true;
      // A link pasted into this tab changes only the fragment: open it too.
      window.addEventListener('hashchange', () => {
        const fragment = fragmentOf(window.location.hash);
        if (fragment) void openState(fragment, true);
      });
      const fromAddress = fragmentOf(window.location.hash);
      let stored: string | undefined;
      try {
        stored = window.localStorage.getItem(STORAGE_KEY) ?? undefined;
      } catch {
        stored = undefined;
      }
      const fragment = fromAddress ?? stored;
      if (fragment) await openState(fragment, !!fromAddress);
    },

    async confirmRemote() {
      const pending = get().pending;
      if (pending) await restore(pending.link, pending.expected);
    },

    declineRemote() {
      set({ status: 'idle', pending: undefined });
    },

    dismissLinkError: () => set({ linkError: undefined }),

    async openAnalysis(text, fileName) {
      let saved: { link: LabLink; neurons?: SavedNeurons };
      try {
        saved = parseAnalysis(text, fileName);
      } catch (err) {
        set({ linkError: toUiError(err) });
        return;
      }
      await open(saved.link, saved.neurons);
    },
  };
});

type SavedNeurons = Array<[number, number]>;

/** The analysis as a JSON file: the link state (to recompute) and the neurons it found (to check). */
export function analysisJson(view: ViewId): string {
  const kn = useNeurons.getState();
  const state = captureLink(view);
  const neurons = kn.refined?.neurons.map((n) => [n.layer, n.index]);
  return `${JSON.stringify({ factlab: 'analysis', version: 1, state, ...(state.searched && neurons ? { knowledgeNeurons: neurons } : {}) }, null, 2)}\n`;
}

function parseAnalysis(text: string, fileName: string): { link: LabLink; neurons?: SavedNeurons } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new FactlabError('bad-analysis', `${fileName} is not JSON. Choose a file saved with "Save analysis".`);
  }
  const o = value as { factlab?: unknown; version?: unknown; state?: unknown; knowledgeNeurons?: unknown };
  if (typeof value !== 'object' || value === null || o.factlab !== 'analysis') throw new FactlabError('bad-analysis', `${fileName} is not a factlab analysis (it lacks "factlab": "analysis"). Choose a file saved with "Save analysis".`);
  if (o.version !== 1) throw new FactlabError('bad-analysis', `${fileName} is a version ${String(o.version)} analysis; this page reads version 1.`);
  // The same checks as a link: the file is as untrusted as an address.
  const link = validateLink(o.state);
  const neurons = Array.isArray(o.knowledgeNeurons) && o.knowledgeNeurons.every((n) => Array.isArray(n) && n.length === 2 && n.every(Number.isInteger)) ? (o.knowledgeNeurons as SavedNeurons) : undefined;
  return { link, neurons };
}

function verify(expected: SavedNeurons): { matches: boolean; message: string } {
  const now = (useNeurons.getState().refined?.neurons ?? []).map((n) => `${n.layer}:${n.index}`);
  const saved = expected.map(([l, i]) => `${l}:${i}`);
  const same = now.length === saved.length && saved.every((k) => now.includes(k));
  return same
    ? { matches: true, message: `Recomputed: the same ${now.length} knowledge neurons as in the file.` }
    : { matches: false, message: `Recomputed ${now.length} knowledge neurons; the file lists ${saved.length}, and ${saved.filter((k) => !now.includes(k)).length} of them are not found now (another backend or a changed model gives other numbers).` };
}

function scrollToView(view: ViewId): void {
  const selector = LAB_VIEWS[view]?.selector;
  if (selector) document.querySelector(selector)?.scrollIntoView({ block: 'start' });
}

/**
 * Keeps the page address and localStorage in step with the analysis, so a reload or a
 * copied address brings it back. Returns the unsubscribe function.
 */
export function persistLabState(): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const save = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      const { status, view } = useLink.getState();
      if (suspendPersist || status === 'confirm' || !useLab.getState().model) return;
      let fragment: string;
      try {
        fragment = encodeLink(captureLink(view));
      } catch {
        return; // a state that cannot travel (local files, over-long prompts) is simply not saved
      }
      try {
        window.localStorage.setItem(STORAGE_KEY, fragment);
      } catch {
        // Private windows and full storage: the address still holds the state.
      }
      const url = new URL(window.location.href);
      url.hash = fragment;
      window.history.replaceState(window.history.state, '', url);
    }, PERSIST_DEBOUNCE_MS);
  };
  const stops = [useLab.subscribe(save), useFacts.subscribe(save), useNeurons.subscribe(save), useIntervention.subscribe(save), useDkn.subscribe(save), useSubnet.subscribe(save), useLink.subscribe(save)];
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    stops.forEach((stop) => stop());
  };
}
