/**
 * The functional filter of degenerate knowledge neurons (methods.md §4.3 Step 4, D6).
 *
 * P0 is the teacher-forced probability of the answer (§2.3) and drop(B) = (P0 − P_B)/P0, where
 * P_B suppresses (activation := 0) every neuron of B at every answer-predicting position
 * (patching.ts). A candidate cluster B with |B| ≥ 2 passes when drop(B) < thresholdLow (0.05):
 * the fact survives without it. A DKN exists iff ≥ 2 clusters pass and suppressing all passing
 * clusters together drops the probability by ≥ jointDropMin (0.3, our choice; the released
 * filter has no threshold here). The joint drop is always measured when something passes.
 *
 * With several prompts, P is the mean over prompts and the drop a ratio of means (our choice,
 * like the primary aggregation of §3.5a).
 */
import { throwIfAborted, yieldToEventLoop } from '../errors';
import type { NeuronSite } from '../knowledge/attribution';
import { answerProbsWithNeurons, relativeDrop } from '../knowledge/patching';
import { neuronKey, type Neuron } from '../knowledge/refine';
import type { Gpt2Weights } from '../model/weights';

/** Relative probability drop when the given neurons are suppressed together. */
export type DropFn = (neurons: Neuron[]) => Promise<number>;

export interface FilterSettings {
  thresholdLow: number;
  jointDropMin: number;
}

export const DEFAULT_FILTER: FilterSettings = { thresholdLow: 0.05, jointDropMin: 0.3 };

export type VerdictReason = 'degenerate' | 'fewer-than-2-candidates' | 'fewer-than-2-passing' | 'joint-drop-below-min';

export interface FilterDecision {
  /** Index of the candidate cluster. */
  cluster: number;
  size: number;
  /** Null for clusters too small to test (|B| < 2). */
  drop: number | null;
  passed: boolean;
}

export interface FilterResult {
  settings: FilterSettings;
  candidates: number;
  decisions: FilterDecision[];
  /** Indices of the passing clusters (the base degenerate components). */
  passing: number[];
  /** drop(all passing clusters together); null when none passes. */
  jointDrop: number | null;
  exists: boolean;
  reason: VerdictReason;
}


export function verdictReason(candidates: number, passing: number, jointDrop: number | null, jointDropMin: number): VerdictReason {
  if (candidates < 2) return 'fewer-than-2-candidates';
  if (passing < 2) return 'fewer-than-2-passing';
  return jointDrop !== null && jointDrop >= jointDropMin ? 'degenerate' : 'joint-drop-below-min';
}

export async function functionalFilter(clusters: Neuron[][], drop: DropFn, options: Partial<FilterSettings> = {}, signal?: AbortSignal): Promise<FilterResult> {
  const settings = { ...DEFAULT_FILTER, ...options };
  const decisions: FilterDecision[] = [];
  for (const [cluster, neurons] of clusters.entries()) {
    throwIfAborted(signal, 'functional filter');
    if (neurons.length < 2) {
      decisions.push({ cluster, size: neurons.length, drop: null, passed: false });
      continue;
    }
    const d = await drop(neurons);
    decisions.push({ cluster, size: neurons.length, drop: d, passed: d < settings.thresholdLow });
    await yieldToEventLoop();
  }
  const passing = decisions.filter((d) => d.passed).map((d) => d.cluster);
  throwIfAborted(signal, 'functional filter');
  const jointDrop = passing.length ? await drop(passing.flatMap((k) => clusters[k])) : null;
  const reason = verdictReason(clusters.length, passing.length, jointDrop, settings.jointDropMin);
  return { settings, candidates: clusters.length, decisions, passing, jointDrop, exists: reason === 'degenerate', reason };
}

export interface DropMeter {
  /** Mean clean probability over the prompts. */
  p0: number;
  p0PerPrompt: number[];
  drop: DropFn;
  /** Number of patched forward passes run so far (cached sets are not counted twice). */
  evaluations(): number;
}

/**
 * drop(S) for one fact's prompts: one padded batch per neuron set, suppression at every
 * answer-predicting position of every prompt. Results are cached by the (unordered) set.
 */
export async function makeDropMeter(weights: Gpt2Weights, items: Array<{ promptIds: number[]; targetIds: number[] }>, site: NeuronSite): Promise<DropMeter> {
  const clean = await answerProbsWithNeurons(weights, items, [], 1);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  const p0PerPrompt = clean.map((c) => c.prob);
  const p0 = mean(p0PerPrompt);
  const cache = new Map<string, number>();
  let evaluations = 0;
  const drop: DropFn = async (neurons) => {
    const unique = [...new Map(neurons.map((n) => [neuronKey(n), n] as const)).values()];
    if (unique.length === 0) return 0;
    const key = unique.map(neuronKey).sort().join(',');
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const after = await answerProbsWithNeurons(weights, items, unique, 0, site);
    evaluations++;
    const value = relativeDrop(p0, mean(after.map((a) => a.prob)));
    cache.set(key, value);
    return value;
  };
  return { p0, p0PerPrompt, drop, evaluations: () => evaluations };
}
