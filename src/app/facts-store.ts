/**
 * The fact being studied and the fact library. The first prompt and the target live in the
 * lab store (they drive the live prediction); the other paraphrase prompts, the subject
 * and the relation live here. The library is the default model's fact set (or an imported one).
 */
import { create } from 'zustand';
import { exportFacts } from '../core/facts/export';
import { createFact, importFacts } from '../core/facts/io';
import type { Fact, FactSet } from '../core/facts/types';
import { fetchFile } from '../core/hub/fetch';
import { factQuery } from './knowledge';
import { EXAMPLE_PROMPT, EXAMPLE_TARGET, isMaskedModel, toUiError, useLab, type UiError } from './store';

export const LIBRARY_URL = `${import.meta.env.BASE_URL.replace(/\/*$/, '/')}models/default/facts.json`;

export interface FactsState {
  library?: FactSet;
  /** The default set's relations, known to imports that only name a relation. */
  defaultLibrary?: FactSet;
  libraryState: 'idle' | 'loading' | 'ready' | 'error';
  libraryError?: UiError;
  query: string;
  relationFilter: string;

  /** Library id of the current fact (undefined for a fact typed by the user). */
  factId?: string;
  subject: string;
  relation: string;
  /** Prompts after the first one (the first is the lab's prompt). */
  paraphrases: string[];
  ioError?: UiError;
  ioMessage?: string;

  loadLibrary(): Promise<void>;
  setQuery(query: string): void;
  setRelationFilter(id: string): void;
  chooseFact(fact: Fact): void;
  setSubject(subject: string): void;
  setRelation(relation: string): void;
  setParaphrase(index: number, text: string): void;
  addParaphrase(text?: string): void;
  removeParaphrase(index: number): void;
  /** Makes paraphrase `index` the first prompt (the one predicted live). */
  promoteParaphrase(index: number): void;
  /** The current fact as a one-fact set (throws a FactlabError with a clear message). */
  currentFactSet(): FactSet;
  exportCurrent(format: 'json' | 'csv'): string | undefined;
  exportLibrary(format: 'json' | 'csv'): string | undefined;
  importFile(bytes: Uint8Array, fileName: string): void;
  useDefaultLibrary(): void;
  clearIo(): void;
}

/** All prompts of the current fact (the lab's prompt first), blank rows left out. */
export function currentPrompts(): string[] {
  const first = useLab.getState().prompt;
  return [first, ...useFacts.getState().paraphrases].filter((p) => p.trim() !== '');
}

let libraryRequest = 0;

export const useFacts = create<FactsState>()((set, get) => ({
  libraryState: 'idle',
  query: '',
  relationFilter: '',
  subject: 'France',
  relation: 'capital_of',
  factId: undefined,
  paraphrases: [],

  async loadLibrary() {
    const request = ++libraryRequest;
    set({ libraryState: 'loading', libraryError: undefined });
    try {
      const bytes = await fetchFile(new URL(LIBRARY_URL, window.location.href).href, { label: 'facts.json' });
      if (!bytes) throw Object.assign(new Error('The default model has no fact library (models/default/facts.json is missing).'), { code: 'facts-missing' });
      const library = importFacts(bytes, { fileName: 'facts.json' });
      if (request !== libraryRequest) return;
      set({ library, defaultLibrary: library, libraryState: 'ready' });
      // The example fact of a fresh page gets its paraphrases (same first prompt and target).
      const lab = useLab.getState();
      const example = library.facts.find((f) => f.id === 'capital_of/france');
      if (example && get().paraphrases.length === 0 && lab.prompt === EXAMPLE_PROMPT && lab.target === EXAMPLE_TARGET) {
        const { prompts, target } = factQuery(library, example);
        if (prompts[0] === EXAMPLE_PROMPT && target === EXAMPLE_TARGET) set({ factId: example.id, subject: example.subject, relation: example.relation, paraphrases: prompts.slice(1) });
      }
    } catch (err) {
      if (request !== libraryRequest) return;
      set({ libraryState: 'error', libraryError: toUiError(err) });
    }
  },

  setQuery: (query) => set({ query }),
  setRelationFilter: (relationFilter) => set({ relationFilter }),

  chooseFact(fact) {
    const library = get().library;
    if (!library) return;
    const masked = isMaskedModel();
    const { prompts, target } = factQuery(library, fact, masked);
    if (prompts.length === 0) {
      set({ ioError: { code: 'facts-no-prompts', message: `The fact "${fact.id}" has no ${masked ? 'masked prompts (with [MASK]) for this BERT model' : 'causal prompts'}.` } });
      return;
    }
    set({ factId: fact.id, subject: fact.subject, relation: fact.relation, paraphrases: prompts.slice(1), ioError: undefined, ioMessage: undefined });
    useLab.getState().setFact(prompts[0], target);
  },

  setSubject: (subject) => set({ subject, factId: undefined }),
  setRelation: (relation) => set({ relation, factId: undefined }),
  setParaphrase: (index, text) => set((s) => ({ paraphrases: s.paraphrases.map((p, i) => (i === index ? text : p)) })),
  addParaphrase: (text = '') => set((s) => ({ paraphrases: [...s.paraphrases, text] })),
  removeParaphrase: (index) => set((s) => ({ paraphrases: s.paraphrases.filter((_, i) => i !== index) })),
  promoteParaphrase(index) {
    const { paraphrases } = get();
    const lab = useLab.getState();
    const next = paraphrases[index];
    if (next === undefined) return;
    set({ paraphrases: paraphrases.map((p, i) => (i === index ? lab.prompt : p)) });
    lab.setPrompt(next);
  },

  currentFactSet() {
    const { subject, relation, defaultLibrary, library } = get();
    const target = useLab.getState().target;
    const relations = [...(library?.relations ?? []), ...(defaultLibrary?.relations ?? [])];
    const fact = createFact({ subject: subject.trim(), relation: relation.trim() || 'custom', object: target.trim(), prompts: currentPrompts() }, relations);
    const known = relations.find((r) => r.id === fact.relation);
    const set: FactSet = {
      name: 'factlab fact',
      version: '1',
      relations: [known ?? { id: fact.relation, name: fact.relation, description: 'Custom relation: each fact brings its own prompts.', templates: [], maskedTemplates: [], heldOutTemplates: [] }],
      facts: [fact],
    };
    return set;
  },

  exportCurrent(format) {
    try {
      const text = exportFacts(get().currentFactSet(), format === 'json' ? 'flat-json' : 'csv');
      set({ ioError: undefined });
      return text;
    } catch (err) {
      set({ ioError: toUiError(err), ioMessage: undefined });
      return undefined;
    }
  },

  exportLibrary(format) {
    const library = get().library;
    if (!library) {
      set({ ioError: { code: 'facts-empty', message: 'There is no library to export yet.' } });
      return undefined;
    }
    try {
      const text = exportFacts(library, format === 'json' ? 'json' : 'csv', { expandPrompts: format === 'csv' });
      set({ ioError: undefined });
      return text;
    } catch (err) {
      set({ ioError: toUiError(err), ioMessage: undefined });
      return undefined;
    }
  },

  importFile(bytes, fileName) {
    try {
      const imported = importFacts(bytes, { fileName, relations: get().defaultLibrary?.relations ?? [] });
      if (imported.facts.length === 0) throw Object.assign(new Error(`${fileName} holds no facts.`), { code: 'facts-empty' });
      set({ library: imported, libraryState: 'ready', ioError: undefined, query: '', relationFilter: '', ioMessage: `Imported ${imported.facts.length} fact${imported.facts.length === 1 ? '' : 's'} from ${fileName}.` });
      if (imported.facts.length === 1) get().chooseFact(imported.facts[0]);
    } catch (err) {
      set({ ioError: toUiError(err), ioMessage: undefined });
    }
  },

  useDefaultLibrary() {
    const { defaultLibrary } = get();
    if (defaultLibrary) set({ library: defaultLibrary, ioMessage: undefined, ioError: undefined });
    else void get().loadLibrary();
  },

  clearIo: () => set({ ioError: undefined, ioMessage: undefined }),
}));

// A model of the other kind (GPT-2 ↔ BERT) asks the same fact in its own form: the library
// fact again (or the example fact) with causal or masked prompts.
useLab.subscribe((s, prev) => {
  if (!s.model || s.model.objective === (prev.model?.objective ?? 'causal')) return;
  const { library, factId } = useFacts.getState();
  const fact = library?.facts.find((f) => f.id === factId) ?? library?.facts.find((f) => f.id === 'capital_of/france');
  if (fact) useFacts.getState().chooseFact(fact);
});

// Typing a different first prompt or target by hand makes the fact the user's own.
useLab.subscribe((s, prev) => {
  if (s.target !== prev.target && useFacts.getState().factId) {
    const library = useFacts.getState().library;
    const fact = library?.facts.find((f) => f.id === useFacts.getState().factId);
    if (fact && s.target.trim() !== fact.object) useFacts.setState({ factId: undefined });
  }
});
