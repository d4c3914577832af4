/**
 * The degeneracy curve of one fact: mean drop vs the number of clusters suppressed (1 … n, from
 * the subset analysis plus all clusters), each point with a random control of the same neuron
 * count and layers (our choice: up to `controlsPerSize` measured subsets per size are each
 * matched by a random set, never a located knowledge neuron). The pipeline's own controls
 * (analysis.ts `randomControls`) match single clusters and all of them, not every size, so
 * they cannot serve as the curve's baseline at sizes 2 … n − 1.
 */
import { neuronKey, type Neuron } from '../knowledge/refine';
import { makeRng } from '../random';
import { degeneracyAnalysis, matchedRandomNeurons, type DegeneracyAnalysis } from './analysis';
import type { DropFn } from './filter';

export interface CurvePoint {
  /** Number of clusters suppressed. */
  size: number;
  mean: number;
  control: number;
  count: number;
}

export interface DegeneracyCurve {
  clusters: number;
  points: CurvePoint[];
  /** Largest drop of one cluster alone, and the drop of all of them together. */
  bestSingle: number;
  all: number;
}

export interface CurveOptions {
  seed?: number;
  controlsPerSize?: number;
  /** The subset analysis of exactly these clusters, when the pipeline already measured it (saves 2^n − 1 passes). */
  analysis?: DegeneracyAnalysis | null;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
const meanOrNull = (xs: number[]) => (xs.length ? mean(xs) : null);

export async function degeneracyCurve(clusters: Neuron[][], located: Neuron[], width: number, drop: DropFn, options: CurveOptions = {}): Promise<DegeneracyCurve> {
  const seed = options.seed ?? 42;
  const given = options.analysis;
  const analysis = given && given.clusters === clusters.length ? given : await degeneracyAnalysis(clusters, drop, { seed });
  const rng = makeRng(seed);
  const exclude = new Set(located.map(neuronKey));
  const measured = [...analysis.subsets, { members: clusters.map((_, k) => k), size: clusters.length, drop: analysis.all ?? 0 }];
  const points: CurvePoint[] = [];
  for (let size = 1; size <= clusters.length; size++) {
    const subsets = measured.filter((s) => s.size === size);
    const controls: number[] = [];
    for (const s of subsets.slice(0, options.controlsPerSize ?? 4)) controls.push(await drop(matchedRandomNeurons(s.members.flatMap((m) => clusters[m]), width, exclude, rng)));
    points.push({ size, mean: mean(subsets.map((s) => s.drop)), control: mean(controls), count: subsets.length });
  }
  return { clusters: clusters.length, points, bestSingle: Math.max(...measured.filter((s) => s.size === 1).map((s) => s.drop)), all: analysis.all ?? 0 };
}

export interface CurveSummary {
  facts: number;
  /** Per number of clusters suppressed: the mean drop and control over the facts whose curve reaches it. */
  points: Array<{ size: number; facts: number; mean: number | null; control: number | null }>;
  /**
   * The same with the last point of every fact (all its clusters) in one row, whatever its n:
   * facts with 2 and 3 clusters would otherwise mix "all" and "a proper subset" at size 2.
   */
  allClusters: { mean: number | null; control: number | null };
  meanBestSingle: number | null;
  /** Facts whose joint drop exceeds their best single cluster's drop. */
  allAboveBestSingle: number;
  meanAllMinusBest: number | null;
}

export function summarizeCurves(curves: DegeneracyCurve[]): CurveSummary {
  const top = Math.max(0, ...curves.map((c) => c.clusters));
  const points = Array.from({ length: top }, (_, k) => {
    const at = curves.flatMap((c) => c.points.filter((p) => p.size === k + 1));
    return { size: k + 1, facts: at.length, mean: meanOrNull(at.map((p) => p.mean)), control: meanOrNull(at.map((p) => p.control)) };
  });
  const last = curves.map((c) => c.points[c.points.length - 1]);
  return {
    facts: curves.length,
    points,
    allClusters: { mean: meanOrNull(last.map((p) => p.mean)), control: meanOrNull(last.map((p) => p.control)) },
    meanBestSingle: meanOrNull(curves.map((c) => c.bestSingle)),
    allAboveBestSingle: curves.filter((c) => c.all > c.bestSingle).length,
    meanAllMinusBest: meanOrNull(curves.map((c) => c.all - c.bestSingle)),
  };
}
