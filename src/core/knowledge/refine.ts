/**
 * Refining attributions into a fact's knowledge neurons (methods.md D4, §3.4).
 * A neuron is a [layer, index] pair, as in existing knowledge-neuron tools.
 */
import { FactlabError } from '../errors';

export type Neuron = [layer: number, index: number];

export interface RefineSettings {
  /** Coarse threshold as a fraction of the prompt's maximum attribution. */
  t: number;
  /** Sharing threshold as a fraction of the fact's prompts. */
  p: number;
  /** Inclusive (≥, official) or strict (>, EleutherAI) comparisons. */
  strict: boolean;
  /** With ≥ 3 prompts, a neuron must be shared by at least this many (official: 3; EleutherAI: none). */
  minPrompts: number;
}

export const REFINE_PRESETS = {
  project: { t: 0.2, p: 0.7, strict: false, minPrompts: 3 },
  'official-kn': { t: 0.2, p: 0.7, strict: false, minPrompts: 3 },
  eleutherai: { t: 0.3, p: 0.5, strict: true, minPrompts: 0 },
} satisfies Record<string, RefineSettings>;
export type RefinePreset = keyof typeof REFINE_PRESETS;

/** One prompt's attributions, one array per layer (layers may be a sub-range). */
export interface PromptAttribution {
  layers: Array<{ layer: number; scores: ArrayLike<number> }>;
}

export interface RefinedNeuron {
  layer: number;
  index: number;
  /** Number of prompts whose coarse set has this neuron. */
  count: number;
  /** Attribution summed over the prompts. */
  total: number;
}

export interface RefineResult {
  settings: RefineSettings;
  prompts: number;
  /** Number of prompts a neuron must be shared by. */
  required: number;
  neurons: RefinedNeuron[];
  /** Coarse-set size per prompt. */
  coarseSizes: number[];
}

export function validateRefineSettings(s: RefineSettings): RefineSettings {
  for (const key of ['t', 'p'] as const) {
    if (!(s[key] >= 0 && s[key] <= 1)) throw new FactlabError('bad-option', `${key} must be between 0 and 1, got ${s[key]}.`);
  }
  if (!Number.isInteger(s.minPrompts) || s.minPrompts < 0) throw new FactlabError('bad-option', `minPrompts must be a non-negative integer, got ${s.minPrompts}.`);
  return s;
}

/** Neurons whose attribution reaches t × the prompt's maximum (none when the maximum is ≤ 0). */
export function coarseNeurons(prompt: PromptAttribution, t: number, strict: boolean): Neuron[] {
  let max = -Infinity;
  for (const { scores } of prompt.layers) for (let i = 0; i < scores.length; i++) max = Math.max(max, scores[i]);
  if (!(max > 0)) return [];
  const threshold = t * max;
  const out: Neuron[] = [];
  for (const { layer, scores } of prompt.layers) {
    for (let i = 0; i < scores.length; i++) if (strict ? scores[i] > threshold : scores[i] >= threshold) out.push([layer, i]);
  }
  return out;
}

export function requiredPrompts(n: number, s: RefineSettings): number {
  return n >= 3 ? Math.max(s.p * n, s.minPrompts) : s.p * n;
}

export function refineNeurons(prompts: PromptAttribution[], settings: RefineSettings): RefineResult {
  validateRefineSettings(settings);
  if (prompts.length === 0) throw new FactlabError('bad-facts', 'Refining needs at least one prompt.');
  const counts = new Map<string, RefinedNeuron>();
  const coarseSizes: number[] = [];
  for (const prompt of prompts) {
    const coarse = coarseNeurons(prompt, settings.t, settings.strict);
    coarseSizes.push(coarse.length);
    for (const [layer, index] of coarse) {
      const key = `${layer}:${index}`;
      const entry = counts.get(key) ?? { layer, index, count: 0, total: 0 };
      entry.count++;
      counts.set(key, entry);
    }
  }
  for (const prompt of prompts) {
    const byLayer = new Map(prompt.layers.map((l) => [l.layer, l.scores]));
    for (const entry of counts.values()) {
      const scores = byLayer.get(entry.layer);
      if (scores) entry.total += scores[entry.index];
    }
  }
  const required = requiredPrompts(prompts.length, settings);
  const neurons = [...counts.values()]
    .filter((n) => (settings.strict ? n.count > required : n.count >= required))
    .sort((a, b) => b.count - a.count || b.total - a.total || a.layer - b.layer || a.index - b.index);
  return { settings, prompts: prompts.length, required, neurons, coarseSizes };
}

/**
 * The official per-relation tuning of p: start at `p`, at most 6 evaluations, step 0.05
 * down while the mean neuron count per fact is < 2 and up while it is > 5.
 */
export function autoTuneP(facts: PromptAttribution[][], base: RefineSettings): { p: number; results: RefineResult[]; evaluations: number } {
  let p = base.p;
  let results: RefineResult[] = [];
  let evaluations = 0;
  for (; evaluations < 6; ) {
    results = facts.map((prompts) => refineNeurons(prompts, { ...base, p }));
    evaluations++;
    const mean = results.reduce((a, r) => a + r.neurons.length, 0) / Math.max(results.length, 1);
    if (mean < 2 && p > 0.05) p = round2(p - 0.05);
    else if (mean > 5 && p < 0.95) p = round2(p + 0.05);
    else break;
  }
  return { p, results, evaluations };
}

const round2 = (x: number) => Math.round(x * 100) / 100;

export function neuronKey([layer, index]: Neuron): string {
  return `${layer}:${index}`;
}

/** The neurons' indices grouped by layer, in order of first appearance. */
export function indicesByLayer(neurons: Neuron[]): Map<number, number[]> {
  const byLayer = new Map<number, number[]>();
  for (const [layer, index] of neurons) byLayer.set(layer, [...(byLayer.get(layer) ?? []), index]);
  return byLayer;
}

/** Parses "10:123,11:7" (the CLI form). */
export function parseNeuronList(text: string, nLayer: number, width: number): Neuron[] {
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new FactlabError('bad-neurons', 'The neuron list is empty: give neurons as layer:index pairs, e.g. 10:123,11:7.');
  return items.map((item) => {
    const match = /^(\d+):(\d+)$/.exec(item);
    if (!match) throw new FactlabError('bad-neurons', `"${item}" is not a layer:index pair (e.g. 10:123).`);
    const neuron: Neuron = [Number(match[1]), Number(match[2])];
    checkNeuron(neuron, nLayer, width);
    return neuron;
  });
}

export function checkNeuron([layer, index]: Neuron, nLayer: number, width: number): void {
  if (!Number.isInteger(layer) || layer < 0 || layer >= nLayer) throw new FactlabError('bad-neurons', `Layer ${layer} is out of range: this model has layers 0–${nLayer - 1}.`);
  if (!Number.isInteger(index) || index < 0 || index >= width) throw new FactlabError('bad-neurons', `Neuron index ${index} is out of range: layers have neurons 0–${width - 1}.`);
}
