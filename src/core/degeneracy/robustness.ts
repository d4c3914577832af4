/**
 * The robustness experiment of degenerate knowledge neurons (methods.md §4.7).
 *
 * Perturbed queries follow `disturb_query.py` on whitespace words: *add* inserts `[ADDED]` at a
 * random position 1..n, *replace* swaps a random inner word for `[REPLACED]`, *delete* removes a
 * random inner word (inner = neither the first nor the last word). Other inserted words can be
 * given (a small model trained without brackets reads the markers as noise tokens).
 *
 * Suppression: ΔProb(S) = (P(clean) − P_S(perturbed)) / P(clean), where P_S suppresses the
 * neurons S (activation := 0) at every answer-predicting position; S is the DKN (union of the
 * passing clusters), the fact's knowledge neurons, a random set matched to the DKN (same size and
 * layers, never a knowledge neuron), or nothing (the perturbation alone). Per fact the mean over
 * its perturbed prompts; the table is the mean over facts.
 *
 * Enhancement: among perturbed prompts whose clean form the model answers (every answer token
 * the argmax) and whose perturbed form it does not, the fraction answered again when S is
 * amplified ×2. Our choice: correctness is teacher-forced top-1 of the answer tokens, not the
 * paper's "gold string within a 20-token greedy generation".
 *
 * Two variants, as the paper's: "values" scales the neurons' activations at the answer-predicting
 * positions; "weights" scales their value slots (rows of `mlp.c_proj`), so at every position,
 * the weights heng840/DKN's `kn.py` edits (`modify_weights`).
 */
import { FactlabError } from '../errors';
import type { NeuronSite } from '../knowledge/attribution';
import { disposeOverrides, scaledValueOverrides } from '../knowledge/edit';
import { answerProbs, answerProbsWithNeurons, relativeDrop } from '../knowledge/patching';
import { neuronKey, type Neuron } from '../knowledge/refine';
import type { Gpt2Weights } from '../model/weights';
import { makeRng, type Rng } from '../random';
import { matchedRandomNeurons } from './analysis';

export const PERTURBATIONS = ['replace', 'add', 'delete'] as const;
export type Perturbation = (typeof PERTURBATIONS)[number];
export const NEURON_SETS = ['dkn', 'kn', 'random', 'none'] as const;
export type NeuronSetName = (typeof NEURON_SETS)[number];

/** The words inserted by *add* and *replace*: the paper's markers, or any other words. */
export interface PerturbationWords {
  added: string;
  replaced: string;
}

export const PAPER_WORDS: PerturbationWords = { added: '[ADDED]', replaced: '[REPLACED]' };

/** The prompt with one word added, replaced or deleted; null when the prompt is too short (replace/delete need an inner word). */
export function perturbPrompt(prompt: string, kind: Perturbation, rng: Rng, words: PerturbationWords = PAPER_WORDS): string | null {
  const parts = prompt.split(/\s+/).filter(Boolean);
  if (kind === 'add') {
    const at = 1 + Math.floor(rng() * parts.length);
    return [...parts.slice(0, at), words.added, ...parts.slice(at)].join(' ');
  }
  if (parts.length < 3) return null;
  const at = 1 + Math.floor(rng() * (parts.length - 2));
  return [...parts.slice(0, at), ...(kind === 'replace' ? [words.replaced] : []), ...parts.slice(at + 1)].join(' ');
}

export interface EncodedItem {
  promptIds: number[];
  targetIds: number[];
}

export interface RobustnessFactInput {
  /** Clean prompts of the fact and, per perturbation, the perturbed form of each (null: none). */
  clean: EncodedItem[];
  perturbed: Record<Perturbation, Array<EncodedItem | null>>;
  dkn: Neuron[];
  kn: Neuron[];
}

export interface RobustnessSettings {
  site: NeuronSite;
  seed: number;
  /** Amplification factor of the enhancing variant. */
  enhance: number;
  /** Scale the activations at the answer positions ('values') or the value slots ('weights'). */
  variant: 'values' | 'weights';
}

export const DEFAULT_ROBUSTNESS: RobustnessSettings = { site: 'post', seed: 42, enhance: 2, variant: 'values' };

export interface PerturbationResult {
  prompts: number;
  /** Mean ΔProb per neuron set over the perturbed prompts. */
  deltaProb: Record<NeuronSetName, number>;
  /** Prompts answered clean but not perturbed, and how many each amplified set recovers. */
  failures: number;
  recovered: Record<Exclude<NeuronSetName, 'none'>, number>;
}

export interface FactRobustness {
  settings: RobustnessSettings;
  sets: Record<Exclude<NeuronSetName, 'none'>, Neuron[]>;
  byPerturbation: Partial<Record<Perturbation, PerturbationResult>>;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

export async function factRobustness(weights: Gpt2Weights, input: RobustnessFactInput, options: Partial<RobustnessSettings> = {}): Promise<FactRobustness> {
  const settings = { ...DEFAULT_ROBUSTNESS, ...options };
  if (input.dkn.length === 0) throw new FactlabError('bad-neurons', 'The robustness experiment needs a non-empty DKN set: run it on facts with ≥ 2 passing clusters.');
  const exclude = new Set(input.kn.map(neuronKey));
  const sets = { dkn: input.dkn, kn: input.kn, random: matchedRandomNeurons(input.dkn, weights.config.nInner, exclude, makeRng(settings.seed)) };
  const clean = await answerProbsWithNeurons(weights, input.clean, [], 1);
  const byPerturbation: FactRobustness['byPerturbation'] = {};
  for (const kind of PERTURBATIONS) {
    const pairs = input.perturbed[kind].flatMap((item, k) => (item ? [{ item, clean: clean[k] }] : []));
    if (pairs.length === 0) continue;
    const items = pairs.map((p) => p.item);
    const run = async (neurons: Neuron[], scale: number) => {
      if (settings.variant === 'values' || neurons.length === 0) return answerProbsWithNeurons(weights, items, neurons, scale, settings.site);
      const overrides = scaledValueOverrides(weights, neurons, scale);
      try {
        return await answerProbs(weights, items, { overrides });
      } finally {
        disposeOverrides(overrides);
      }
    };
    const delta = (after: Array<{ prob: number }>) => mean(after.map((a, k) => relativeDrop(pairs[k].clean.prob, a.prob)));
    const plain = await run([], 1);
    const failed = pairs.flatMap((p, k) => (p.clean.top1 && !plain[k].top1 ? [k] : []));
    const deltaProb = { none: delta(plain) } as Record<NeuronSetName, number>;
    const recovered = {} as PerturbationResult['recovered'];
    for (const name of ['dkn', 'kn', 'random'] as const) {
      deltaProb[name] = delta(await run(sets[name], 0));
      const enhanced = failed.length ? await run(sets[name], settings.enhance) : [];
      recovered[name] = failed.filter((k) => enhanced[k].top1).length;
    }
    byPerturbation[kind] = { prompts: pairs.length, deltaProb, failures: failed.length, recovered };
  }
  return { settings, sets, byPerturbation };
}

export interface RobustnessTable {
  facts: number;
  /** Per perturbation: mean ΔProb over facts per set, and the recovered fraction of all failures per set. */
  rows: Record<Perturbation, { facts: number; deltaProb: Record<NeuronSetName, number> | null; failures: number; recoveredFraction: Record<Exclude<NeuronSetName, 'none'>, number> | null }>;
}

export function summarizeRobustness(results: FactRobustness[]): RobustnessTable {
  const rows = {} as RobustnessTable['rows'];
  for (const kind of PERTURBATIONS) {
    const parts = results.flatMap((r) => (r.byPerturbation[kind] ? [r.byPerturbation[kind]!] : []));
    const failures = parts.reduce((a, p) => a + p.failures, 0);
    rows[kind] = {
      facts: parts.length,
      deltaProb: parts.length ? (Object.fromEntries(NEURON_SETS.map((s) => [s, mean(parts.map((p) => p.deltaProb[s]))])) as Record<NeuronSetName, number>) : null,
      failures,
      recoveredFraction: failures ? { dkn: sum(parts, 'dkn') / failures, kn: sum(parts, 'kn') / failures, random: sum(parts, 'random') / failures } : null,
    };
  }
  return { facts: results.length, rows };
}

function sum(parts: PerturbationResult[], set: Exclude<NeuronSetName, 'none'>): number {
  return parts.reduce((a, p) => a + p.recovered[set], 0);
}
