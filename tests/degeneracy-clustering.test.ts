import { describe, expect, it } from 'vitest';
import { dbscanClusters, hierarchicalClusters, pairwiseBaseline } from '../src/core/degeneracy/baselines';
import { BirthUnionFind, persistentHomologyClusters, quantile } from '../src/core/degeneracy/clustering';
import { kmeansClusters, pcaProject, symmetricEigen } from '../src/core/degeneracy/kmeans';
import type { Neuron } from '../src/core/knowledge/refine';

/** n×n symmetric matrix from upper-triangle entries {"i,j": d}; missing pairs are ∞ (1000). */
function matrixFrom(n: number, entries: Record<string, number>, fill = 1000): Float32Array {
  const m = new Float32Array(n * n).fill(fill);
  for (let i = 0; i < n; i++) m[i * n + i] = 0;
  for (const [key, d] of Object.entries(entries)) {
    const [i, j] = key.split(',').map(Number);
    m[i * n + j] = d;
    m[j * n + i] = d;
  }
  return m;
}

describe('quantiles (numpy default, linear interpolation)', () => {
  it('matches numpy.quantile on known values', () => {
    expect(quantile([1, 2, 3, 4], 0.2)).toBeCloseTo(1.6, 12); // np.quantile([1,2,3,4], 0.2) = 1.6
    expect(quantile([3, 1, 2, 4, 5], 0.7)).toBeCloseTo(3.8, 12); // = 3.8 (unsorted input)
    expect(quantile([7, 15, 36, 39, 40, 41], 0.25)).toBe(20.25); // np.percentile(..., 25) = 20.25
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.2)).toBeCloseTo(2.8, 12);
    expect(quantile([1, 3], 0.75)).toBe(2.5);
    expect(quantile([0, 1], 0.5)).toBe(0.5);
    expect(quantile([10], 0.3)).toBe(10);
    expect(quantile([2, 8], 0)).toBe(2);
    expect(quantile([2, 8], 1)).toBe(8);
    expect(() => quantile([], 0.5)).toThrow(/empty/);
  });
});

describe('persistent-homology clustering', () => {
  it('no finite distances → no clusters (and n = 0)', () => {
    expect(persistentHomologyClusters(matrixFrom(3, {}), 3).clusters).toEqual([]);
    // distances between the finite cut (100) and ∞ (1000) are not finite either
    const r = persistentHomologyClusters(matrixFrom(3, { '0,1': 150, '1,2': 999 }), 3);
    expect(r.finiteDistances).toBe(0);
    expect(r.clusters).toEqual([]);
    expect(persistentHomologyClusters(new Float32Array(0), 0).clusters).toEqual([]);
  });

  it('|E| = 1: no edge is processed, so no cluster', () => {
    // finite [1, 2]: R* = 1.2, E = {(0,1)}, ⌊0.5·1⌋ = 0 edges processed
    const r = persistentHomologyClusters(matrixFrom(4, { '0,1': 1, '2,3': 2 }), 4);
    expect(r.radius).toBeCloseTo(1.2, 6);
    expect(r.edges).toBe(1);
    expect(r.processedEdges).toBe(0);
    expect(r.clusters).toEqual([]);
  });

  it('one finite distance: R* equals it and the strict d < R* leaves E empty', () => {
    const r = persistentHomologyClusters(matrixFrom(3, { '0,2': 0.5 }), 3);
    expect(r.radius).toBe(0.5);
    expect(r.edges).toBe(0);
    expect(r.clusters).toEqual([]);
  });

  it('a single cluster, worked by hand; disconnected neurons stay out', () => {
    // finite sorted: 0.1 0.15 0.2 0.3 5 6 8 9 10 20 → R* = 0.19; E = [(0,1) 0.1, (3,4) 0.15]; 1 processed
    const m = matrixFrom(7, { '0,1': 0.1, '1,2': 0.2, '3,4': 0.15, '4,5': 0.3, '0,2': 5, '3,5': 6, '2,5': 8, '0,3': 9, '1,4': 10, '1,5': 20 });
    const r = persistentHomologyClusters(m, 7);
    expect(r.radius).toBeCloseTo(0.19, 6);
    expect(r.edges).toBe(2);
    expect(r.processedEdges).toBe(1);
    expect(r.births.map((b) => +b.toFixed(6))).toEqual([0.1, 0.1, 0, 0, 0, 0, 0]);
    expect(r.persistenceThreshold).toBe(0);
    expect(r.maxEdgeWeight).toBeCloseTo(0.15, 6);
    expect(r.clusters).toHaveLength(1);
    expect(r.clusters[0].members).toEqual([0, 1]);
    expect(r.clusters[0].root).toBe(1); // equal ranks: the edge's higher index becomes the root
    expect(r.clusters[0].birth).toBeCloseTo(0.1, 6);
    expect(r.clusters[0].persistence).toBeCloseTo(0.05, 6);
  });

  it('two components; the persistence threshold decides which survive', () => {
    const m = matrixFrom(6, {
      '0,1': 1, '1,2': 2, '3,4': 1.5, '4,5': 2.5, '0,2': 3, '3,5': 3.5,
      '0,3': 50, '0,4': 51, '0,5': 52, '1,3': 53, '1,4': 54, '1,5': 55, '2,3': 56, '2,4': 57, '2,5': 58,
    });
    // R* = quantile(15 values, 0.2) = 2.4 → E = [(0,1) 1, (3,4) 1.5, (1,2) 2]
    const all = persistentHomologyClusters(m, 6, { fractionOfEdges: 1, persistenceQuantile: 0 });
    expect(all.radius).toBeCloseTo(2.4, 6);
    expect(all.births).toEqual([1, 1, 2, 1.5, 1.5, 0]);
    expect(all.clusters.map((c) => [c.members, c.birth, c.persistence])).toEqual([[[0, 1, 2], 1, 1], [[3, 4], 1.5, 0.5]]);
    // default persistence quantile: θ = median(0, 1, 1, 1.5, 1.5, 2) = 1.25 → both rejected
    const median = persistentHomologyClusters(m, 6, { fractionOfEdges: 1 });
    expect(median.persistenceThreshold).toBe(1.25);
    expect(median.clusters).toEqual([]);
    // defaults: ⌊0.5·3⌋ = 1 edge → {0,1} with persistence 2 − 1 = 1 > θ = 0
    expect(persistentHomologyClusters(m, 6).clusters.map((c) => c.members)).toEqual([[0, 1]]);
  });

  it('ties keep the upper-triangle order', () => {
    // four edges of weight 1 in row-major order (0,1) (1,2) (3,4) (5,6); every other pair 10
    const entries: Record<string, number> = {};
    for (let i = 0; i < 7; i++) for (let j = i + 1; j < 7; j++) entries[`${i},${j}`] = 10;
    Object.assign(entries, { '5,6': 1, '3,4': 1, '1,2': 1, '0,1': 1 });
    const r = persistentHomologyClusters(matrixFrom(7, entries), 7);
    expect(r.radius).toBe(10);
    expect(r.edges).toBe(4);
    expect(r.processedEdges).toBe(2);
    expect(r.births).toEqual([1, 1, 1, 0, 0, 0, 0]); // (0,1) and (1,2) were processed, not (3,4)
    expect(r.clusters).toEqual([]); // persistence 1 − 1 = 0 is not > θ = 0
  });

  it('root convention of dkn.py: union by rank, equal ranks give the root to the higher index', () => {
    const uf = new BirthUnionFind(5);
    uf.union(2, 3, 1); // ranks 0 = 0: root 3 (rank 1); births 2 and 3 = 1
    expect(uf.find(2)).toBe(3);
    uf.union(1, 2, 2); // 1 is a singleton: birth 2; rank 0 < 1, so 3 stays the root
    expect(uf.find(1)).toBe(3);
    expect(uf.birth).toEqual([0, 2, 1, 1, 0]);
    expect(uf.union(3, 1, 5)).toBe(false);
    uf.union(0, 4, 3); // two singletons: root 4 (rank 1), births 3
    uf.union(4, 1, 4); // ranks 1 = 1: the root of 1 (3) wins and reaches rank 2; no singleton, no birth
    expect([0, 1, 2, 3, 4].map((k) => uf.find(k))).toEqual([3, 3, 3, 3, 3]);
    expect(uf.birth).toEqual([3, 2, 1, 1, 3]);
    expect(uf.rank[3]).toBe(2);
    uf.union(3, 0, 9); // already joined
    expect(uf.size[3]).toBe(5);
  });

  it('the root decides persistence: dkn.py reads the birth of the root point', () => {
    // E = [(2,3) 1, (0,2) 2.9]. (2,3) → root 3 (rank 1), births 1; (0,2): 0 is a singleton,
    // birth 2.9, and joins under 3 (rank 0 < 1). Persistence 2.9 − birth[3] = 1.9 > θ = 0.
    // With "the edge's lower endpoint's root wins", 0 would be the root: 2.9 − 2.9 = 0, rejected.
    const entries: Record<string, number> = { '2,3': 1, '0,2': 2.9, '0,1': 50, '0,3': 50, '1,2': 50, '1,3': 50 };
    const r = persistentHomologyClusters(matrixFrom(4, entries), 4, { fractionOfEdges: 1, distanceQuantile: 1, persistenceQuantile: 0 });
    expect(r.births.map((b) => +b.toFixed(6))).toEqual([2.9, 0, 1, 1]);
    expect(r.clusters.map((c) => [c.members, c.root, c.birth, +c.persistence!.toFixed(6)])).toEqual([[[0, 2, 3], 3, 1, 1.9]]);
  });
});

describe('baselines', () => {
  // two groups {0,1,2} and {3,4,5} (within 1, across 10..18) and a far point 6 (50 to all)
  const groups = (): Float32Array => {
    const entries: Record<string, number> = { '0,1': 1, '0,2': 1, '1,2': 1, '3,4': 1, '3,5': 1, '4,5': 1 };
    let cross = 10;
    for (const i of [0, 1, 2]) for (const j of [3, 4, 5]) entries[`${i},${j}`] = cross++;
    return matrixFrom(6, entries);
  };

  it('hierarchical average linkage cut at the 0.7 quantile', () => {
    // sorted condensed: 1×6, 10..18 → q0.7 = 13.8; the groups' average distance 14 stays above it
    const r = hierarchicalClusters(groups(), 6);
    expect(r.threshold).toBeCloseTo(13.8, 5);
    expect(r.clusters).toEqual([[0, 1, 2], [3, 4, 5]]);
    // with many ∞ pairs the cut is 1000 itself and everything merges (as in scipy)
    expect(hierarchicalClusters(matrixFrom(4, { '0,1': 1, '2,3': 2 }), 4).clusters).toEqual([[0, 1, 2, 3]]);
  });

  it('DBSCAN with eps = median nearest-neighbour distance; far points are noise', () => {
    const base = groups();
    const m = new Float32Array(49).fill(50);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) m[i * 7 + j] = base[i * 6 + j];
    m[48] = 0;
    const r = dbscanClusters(m, 7);
    expect(r.eps).toBe(1);
    expect(r.minSamples).toBe(2);
    expect(r.clusters).toEqual([[0, 1, 2], [3, 4, 5]]);
  });

  it('k-means on a 95%-variance PCA of the rows, seeded', () => {
    const r = kmeansClusters(groups(), 6, { seed: 42 });
    expect(r.k).toBe(2);
    expect(r.components).toBeGreaterThanOrEqual(1);
    expect(r.clusters).toEqual([[0, 1, 2], [3, 4, 5]]);
    expect(kmeansClusters(groups(), 6, { seed: 42 })).toEqual(r);
  });

  it('Jacobi eigen-decomposition and PCA component count', () => {
    const { values, vectors } = symmetricEigen([[2, 1], [1, 2]]);
    expect(values[0]).toBeCloseTo(3, 10);
    expect(values[1]).toBeCloseTo(1, 10);
    expect(Math.abs(vectors[0][0])).toBeCloseTo(Math.SQRT1_2, 10);
    // points on a line: one component carries all the variance
    expect(pcaProject([[0, 0], [1, 2], [2, 4], [3, 6]]).components).toBe(1);
  });

  it('pairwise (AAAI 2024): singles < 0.05, greedy disjoint pairs with joint drop > 0.3', async () => {
    const neurons: Neuron[] = [[0, 0], [0, 1], [1, 2], [1, 3], [2, 4]];
    const single = [0.01, 0.02, 0.1, 0, 0.01];
    const pair: Record<string, number> = { '0,1': 0.5, '0,3': 0.9, '1,3': 0.9, '3,4': 0.2 };
    const calls: string[] = [];
    const drop = async (set: Neuron[]) => {
      const ks = set.map((n) => neurons.findIndex((m) => m[0] === n[0] && m[1] === n[1])).sort();
      calls.push(ks.join(','));
      return ks.length === 1 ? single[ks[0]] : pair[ks.join(',')] ?? 0;
    };
    const r = await pairwiseBaseline(neurons, drop);
    expect(r.singles.map((s) => s.kept)).toEqual([true, true, false, true, true]);
    expect(r.pairs).toEqual([[0, 1]]);
    expect(r.tested.map((t) => [t.members, t.taken])).toEqual([[[0, 1], true], [[3, 4], false]]);
    expect(calls).toEqual(['0', '1', '2', '3', '4', '0,1', '3,4']);
    // only the first `top` neurons are considered
    expect((await pairwiseBaseline(neurons, drop, { top: 1 })).singles).toHaveLength(1);
  });
});
