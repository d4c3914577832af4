/**
 * Helpers of the knowledge-neuron views: fact search, control facts, the layer × neuron
 * grid the map draws, coarse counts for tooltips, the export formats and a file download.
 * Nothing here talks to the worker.
 */
import { formatCsv } from '../core/facts/csv';
import { promptsFor, targetFor } from '../core/facts/prompts';
import type { Fact, FactSet, Relation } from '../core/facts/types';
import { type Neuron, type PromptAttribution, type RefinedNeuron } from '../core/knowledge/refine';

/** How many library matches the list shows at once. */
export const LIBRARY_LIST_CAP = 100;

export interface FactMatch {
  fact: Fact;
  relation?: Relation;
}

/** Facts whose subject, object, relation (id or name) or id contain every word of the query. */
export function searchFacts(set: FactSet | undefined, query: string, relationId = '', cap = LIBRARY_LIST_CAP): { matches: FactMatch[]; total: number } {
  if (!set) return { matches: [], total: 0 };
  const relations = new Map(set.relations.map((r) => [r.id, r]));
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const matches: FactMatch[] = [];
  let total = 0;
  for (const fact of set.facts) {
    if (relationId && fact.relation !== relationId) continue;
    const relation = relations.get(fact.relation);
    if (words.length) {
      const hay = `${fact.subject}\u0000${fact.object}\u0000${fact.relation}\u0000${relation?.name ?? ''}\u0000${fact.id}`.toLowerCase();
      if (!words.every((w) => hay.includes(w))) continue;
    }
    total++;
    if (matches.length < cap) matches.push({ fact, relation });
  }
  return { matches, total };
}

/**
 * All prompts of a library fact and its target, in the loaded model's form: causal prompts
 * and " Paris" for GPT-2, masked prompts ("… is [MASK].") and "Paris" for BERT.
 */
export function factQuery(set: FactSet, fact: Fact, masked = false): { prompts: string[]; target: string } {
  const relation = set.relations.find((r) => r.id === fact.relation);
  return { prompts: promptsFor(fact, relation, { split: 'all', masked }), target: targetFor(fact, { masked }) };
}

/**
 * Whether a fact can stand in a batch for a masked model: one [MASK] stands for one word
 * piece, so multi-word objects ("Buenos Aires") cannot (and would fail the whole batch).
 */
function usable(fact: Fact, masked: boolean): boolean {
  return !masked || /^[^\s-]+$/u.test(fact.object);
}

/** FNV-1a: a stable choice that does not depend on the platform. */
export function stableHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export interface ControlItem {
  label: string;
  factId: string;
  prompt: string;
  target: string;
}

/**
 * Control facts for a fact: one fact from each of up to `n` other relations (in the set's
 * order), chosen by a hash of the fact's key, so the same fact always gets the same controls.
 * Each control contributes its first prompt.
 */
/** Facts the relation filter counts neurons over: the fact itself and up to `n` − 1 others of its relation, evenly spread. */
export const RELATION_FILTER_FACTS = 20;
export function relationSample(set: FactSet | undefined, relationId: string, factId: string | undefined, masked = false, n = RELATION_FILTER_FACTS): Array<{ prompts: string[]; target: string }> {
  const relation = set?.relations.find((r) => r.id === relationId);
  if (!set || !relation) return [];
  const facts = set.facts.filter((f) => f.relation === relationId && (f.id === factId || usable(f, masked)));
  const own = facts.filter((f) => f.id === factId);
  const others = facts.filter((f) => f.id !== factId);
  const stride = Math.max(1, Math.floor(others.length / Math.max(1, n - own.length)));
  const chosen = [...own, ...others.filter((_, i) => i % stride === 0)].slice(0, n);
  return chosen.map((f) => factQuery(set, f, masked)).filter((f) => f.prompts.length > 0);
}

export function controlFacts(set: FactSet | undefined, key: string, ownRelation: string | undefined, masked = false, n = 5): ControlItem[] {
  if (!set) return [];
  const out: ControlItem[] = [];
  for (const relation of set.relations) {
    if (out.length >= n) break;
    if (relation.id === ownRelation) continue;
    const facts = set.facts.filter((f) => f.relation === relation.id && usable(f, masked));
    if (facts.length === 0) continue;
    const fact = facts[stableHash(`${key}|${relation.id}`) % facts.length];
    const { prompts, target } = factQuery(set, fact, masked);
    if (prompts.length === 0) continue;
    out.push({ label: `${fact.subject} → ${fact.object}`, factId: fact.id, prompt: prompts[0], target });
  }
  return out;
}

/** A layer × neuron matrix for the map: one Float32Array per layer (layer index = position). */
export interface NeuronGrid {
  /** Model layer of each row. */
  layers: number[];
  width: number;
  rows: Float32Array[];
  /** Largest |value| (for a symmetric colour scale). */
  maxAbs: number;
}

/** The grid of one prompt's scores, or of the scores summed over prompts (`prompt` undefined). */
export function buildGrid(scores: PromptAttribution[], prompt?: number): NeuronGrid | undefined {
  const chosen = prompt === undefined ? scores : scores[prompt] ? [scores[prompt]] : [];
  if (chosen.length === 0 || chosen[0].layers.length === 0) return undefined;
  const layers = chosen[0].layers.map((l) => l.layer);
  const width = chosen[0].layers[0].scores.length;
  const rows = layers.map(() => new Float32Array(width));
  for (const p of chosen) {
    p.layers.forEach((l, k) => {
      const row = rows[k];
      if (!row) return;
      for (let i = 0; i < width; i++) row[i] += l.scores[i];
    });
  }
  let maxAbs = 0;
  for (const row of rows) for (let i = 0; i < width; i++) maxAbs = Math.max(maxAbs, Math.abs(row[i]));
  return { layers, width, rows, maxAbs };
}

/** How many prompts' coarse sets hold a neuron (the count refining compares with p). */
export type CoarseCounter = (layer: number, index: number) => number;

/** Each prompt's maximum score (the coarse threshold is t × this maximum). */
export function promptMaxima(scores: PromptAttribution[]): number[] {
  return scores.map((prompt) => {
    let max = -Infinity;
    for (const { scores: row } of prompt.layers) for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
    return max;
  });
}

/**
 * The coarse count of any one neuron in O(prompts), with the rule of refine.ts
 * `coarseNeurons` (score ≥ t·max, or > with `strict`; nothing when max ≤ 0), so a tooltip
 * or a table row never needs the coarse sets of all neurons.
 */
export function coarseCounter(scores: PromptAttribution[], maxima: number[], t: number, strict: boolean): CoarseCounter {
  const rows = scores.map((p) => new Map(p.layers.map((l) => [l.layer, l.scores])));
  return (layer, index) => {
    let count = 0;
    rows.forEach((byLayer, k) => {
      const max = maxima[k];
      const v = byLayer.get(layer)?.[index];
      if (!(max > 0) || v === undefined) return;
      if (strict ? v > t * max : v >= t * max) count++;
    });
    return count;
  };
}

/** The value of neuron (layer, index) in a prompt's scores (NaN when absent). */
export function scoreOf(prompt: PromptAttribution | undefined, [layer, index]: Neuron): number {
  const row = prompt?.layers.find((l) => l.layer === layer);
  return row ? row.scores[index] : NaN;
}

export interface TableRow {
  layer: number;
  index: number;
  score: number;
  count: number;
  refined: boolean;
}

/** The `topN` neurons of a grid by value (largest first), with coarse counts and refined marks. */
export function topNeurons(grid: NeuronGrid, topN: number, countOf: CoarseCounter, refined: Set<string>): TableRow[] {
  const rows: TableRow[] = [];
  const consider = (layer: number, index: number, score: number) => {
    if (rows.length === topN && score <= rows[rows.length - 1].score) return;
    const row = { layer, index, score, count: 0, refined: false };
    let j = rows.length;
    while (j > 0 && rows[j - 1].score < score) j--;
    rows.splice(j, 0, row);
    if (rows.length > topN) rows.pop();
  };
  grid.rows.forEach((row, k) => {
    for (let i = 0; i < grid.width; i++) consider(grid.layers[k], i, row[i]);
  });
  for (const row of rows) {
    row.count = countOf(row.layer, row.index);
    row.refined = refined.has(`${row.layer}:${row.index}`);
  }
  return rows;
}

/** Knowledge neurons in the `[[layer, index], …]` form of existing knowledge-neuron tools. */
export function neuronsJson(neurons: Array<Pick<RefinedNeuron, 'layer' | 'index'>>): string {
  return `[${neurons.map((n) => `[${n.layer}, ${n.index}]`).join(', ')}]\n`;
}

export function neuronsCsv(neurons: RefinedNeuron[]): string {
  return formatCsv([['layer', 'index', 'count', 'total_score'], ...neurons.map((n) => [String(n.layer), String(n.index), String(n.count), String(n.total)])]);
}

export function tableCsv(rows: TableRow[], valueName: string): string {
  return formatCsv([['layer', 'index', valueName, 'coarse_count', 'refined'], ...rows.map((r) => [String(r.layer), String(r.index), String(r.score), String(r.count), r.refined ? '1' : '0'])]);
}

/** Ratio of means (official) and mean of ratios (EleutherAI) of after vs before, as % change. */
export function meanChange(pairs: Array<{ before: number; after: number }>): { ratioOfMeans: number; meanOfRatios: number } {
  if (pairs.length === 0) return { ratioOfMeans: NaN, meanOfRatios: NaN };
  const before = pairs.reduce((a, p) => a + p.before, 0) / pairs.length;
  const after = pairs.reduce((a, p) => a + p.after, 0) / pairs.length;
  const ratios = pairs.filter((p) => p.before > 0).map((p) => (p.after - p.before) / p.before);
  return {
    ratioOfMeans: before > 0 ? ((after - before) / before) * 100 : NaN,
    meanOfRatios: ratios.length ? (ratios.reduce((a, b) => a + b, 0) / ratios.length) * 100 : NaN,
  };
}

/** Saves text as a file through a temporary link. */
export function download(fileName: string, text: string, type: string): void {
  downloadBlob(fileName, new Blob([text], { type }));
}

export function downloadBlob(fileName: string, blob: Blob): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A file-name-safe slug. */
export function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60) || 'fact';
}
