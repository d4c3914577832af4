/** Fact-set summary of degenerate-knowledge-neuron results (for the CLI and the lab's tables). */
import type { DknResult } from './dkn';

export interface DknSetSummary {
  facts: number;
  withDkn: number;
  /** Fraction of facts with a DKN (≥ 2 passing clusters and joint drop ≥ jointDropMin). */
  fraction: number;
  /** Facts per verdict reason. */
  reasons: Record<string, number>;
  meanNeurons: number;
  meanCandidates: number;
  meanPassing: number;
  /** Sizes (in neurons) of the passing clusters of facts with a DKN: count per size. */
  bdcSizes: Record<string, number>;
  /** Layer span (highest − lowest layer) of those clusters: count per span. */
  layerSpans: Record<string, number>;
  /** Mean joint drop over facts with ≥ 2 passing clusters; null if there are none. */
  meanJointDrop: number | null;
  /** Mean drop of proper subsets (over all sizes) vs all clusters, over facts with an analysis. */
  meanSubsetDrop: number | null;
  meanAllDrop: number | null;
  /** Mean drop of the size-matched random controls of all clusters together. */
  meanControlDrop: number | null;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

export function summarizeDknResults(results: DknResult[]): DknSetSummary {
  const withDkn = results.filter((r) => r.verdict.dkn);
  const reasons: Record<string, number> = {};
  for (const r of results) reasons[r.verdict.reason] = (reasons[r.verdict.reason] ?? 0) + 1;
  const bdcSizes: Record<string, number> = {};
  const layerSpans: Record<string, number> = {};
  for (const r of withDkn) {
    for (const k of r.filter.passing) {
      const c = r.clusters[k];
      bdcSizes[c.neurons.length] = (bdcSizes[c.neurons.length] ?? 0) + 1;
      const span = c.layers[1] - c.layers[0];
      layerSpans[span] = (layerSpans[span] ?? 0) + 1;
    }
  }
  const analysed = results.filter((r) => r.analysis);
  return {
    facts: results.length,
    withDkn: withDkn.length,
    fraction: results.length ? withDkn.length / results.length : 0,
    reasons,
    meanNeurons: mean(results.map((r) => r.neurons.length)) ?? 0,
    meanCandidates: mean(results.map((r) => r.clusters.length)) ?? 0,
    meanPassing: mean(results.map((r) => r.filter.passing.length)) ?? 0,
    bdcSizes,
    layerSpans,
    meanJointDrop: mean(results.filter((r) => r.filter.passing.length >= 2).map((r) => r.jointDrop ?? 0)),
    meanSubsetDrop: mean(analysed.flatMap((r) => r.analysis!.subsets.map((s) => s.drop))),
    meanAllDrop: mean(analysed.map((r) => r.analysis!.all ?? 0)),
    meanControlDrop: mean(results.flatMap((r) => r.controls?.controls.filter((c) => c.target === 'all').map((c) => c.mean) ?? [])),
  };
}
