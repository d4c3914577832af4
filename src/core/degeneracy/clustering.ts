/**
 * Persistent-homology clustering of knowledge neurons (methods.md §4.3 Step 3; appendix 9).
 *
 * 1. The finite distances are the upper-triangle entries (i < j) below `infThreshold`; none → no clusters.
 * 2. R* = quantile(finite, distanceQuantile). The edges E are the pairs with d < R* (strict), sorted
 *    ascending by d; ties keep the upper-triangle order (row i ascending, then column j), as a
 *    stable sort of pairs generated in that order does.
 * 3. Union-find over the first ⌊fractionOfEdges·|E|⌋ edges. Birth times start at 0; when an edge
 *    joins a point that is still a singleton, that point's birth time becomes the edge weight.
 *    (With |E| = 1 no edge is processed.)
 * 4. θ = quantile(birth times of all n points, persistenceQuantile).
 * 5. A component C is a candidate when |C| > 1 and max_{e ∈ E} w(e) − birth[root(C)] > θ.
 *
 * Root convention, as heng840/DKN knowledge_neurons/dkn.py `UnionFind` (checked against the
 * released code): union by rank. For an edge (i, j), the root of higher rank stays the root; on
 * equal ranks the root of j (the edge's higher index) becomes the root and its rank grows by
 * one. `find` compresses paths, which never changes a component's root. The root matters
 * because step 5 reads the birth time of the root point only: with "i's root always wins"
 * (factlab's first reading) a different point's birth decides a cluster's persistence, and
 * clusters pass or fail differently than in the paper's pipeline.
 *
 * Quantiles are numpy's default (method 'linear'): h = (n − 1)·q, interpolating between the
 * order statistics ⌊h⌋ and ⌊h⌋ + 1 the way numpy's `_lerp` does.
 */
import { FactlabError } from '../errors';

/** numpy.quantile(values, q) with the default linear interpolation. */
export function quantile(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) throw new FactlabError('bad-option', 'The quantile of an empty list is undefined.');
  if (!(q >= 0 && q <= 1)) throw new FactlabError('bad-option', `Quantiles must be between 0 and 1, got ${q}.`);
  const sorted = Float64Array.from(values).sort();
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const t = h - lo;
  const a = sorted[lo];
  const b = sorted[hi];
  const diff = b - a;
  // numpy's _lerp: a + (b − a)·t, computed from b when t ≥ 0.5 (exact at t = 1).
  return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

export interface PersistentHomologySettings {
  distanceQuantile: number;
  fractionOfEdges: number;
  persistenceQuantile: number;
  /** Distances at or above this are not finite (code: 100, with 1000 standing for ∞). */
  infThreshold: number;
}

export const DEFAULT_PERSISTENT_HOMOLOGY: PersistentHomologySettings = { distanceQuantile: 0.2, fractionOfEdges: 0.5, persistenceQuantile: 0.5, infThreshold: 100 };

export interface CandidateCluster {
  /** Indices into the neuron list, ascending. */
  members: number[];
  /** Union-find root (see the root convention above). */
  root: number;
  /** Birth time of the root. */
  birth: number;
  /** max edge weight over all of E − birth. */
  persistence: number;
}

export interface PersistentHomologyResult {
  settings: PersistentHomologySettings;
  finiteDistances: number;
  /** R*; null when there are no finite distances. */
  radius: number | null;
  /** |E| and how many of them the union-find processed. */
  edges: number;
  processedEdges: number;
  maxEdgeWeight: number | null;
  /** Birth time per point (all 0 when nothing was processed). */
  births: number[];
  /** θ; null when there are no finite distances. */
  persistenceThreshold: number | null;
  /** Candidate clusters, ordered by their smallest member. */
  clusters: CandidateCluster[];
}

export function validatePersistentHomologySettings(s: PersistentHomologySettings): PersistentHomologySettings {
  for (const key of ['distanceQuantile', 'fractionOfEdges', 'persistenceQuantile'] as const) {
    if (!(s[key] >= 0 && s[key] <= 1)) throw new FactlabError('bad-option', `${key} must be between 0 and 1, got ${s[key]}.`);
  }
  if (!(s.infThreshold > 0)) throw new FactlabError('bad-option', `infThreshold must be positive, got ${s.infThreshold}.`);
  return s;
}

/** Union-find with birth times and the root convention documented above. */
export class BirthUnionFind {
  readonly parent: number[];
  readonly rank: number[];
  readonly size: number[];
  readonly birth: number[];

  constructor(n: number) {
    this.parent = Array.from({ length: n }, (_, i) => i);
    this.rank = Array(n).fill(0);
    this.size = Array(n).fill(1);
    this.birth = Array(n).fill(0);
  }

  find(x: number): number {
    let root = x;
    while (this.parent[root] !== root) root = this.parent[root];
    while (this.parent[x] !== root) {
      const next = this.parent[x];
      this.parent[x] = root;
      x = next;
    }
    return root;
  }

  /** Joins the components of i and j at weight w (root by rank, ties to j's root). Returns false if already joined. */
  union(i: number, j: number, w: number): boolean {
    const ri = this.find(i);
    const rj = this.find(j);
    if (ri === rj) return false;
    if (this.size[ri] === 1) this.birth[i] = w;
    if (this.size[rj] === 1) this.birth[j] = w;
    const [child, root] = this.rank[ri] > this.rank[rj] ? [rj, ri] : [ri, rj];
    if (this.rank[child] === this.rank[root]) this.rank[root]++;
    this.parent[child] = root;
    this.size[root] += this.size[child];
    return true;
  }
}

export function persistentHomologyClusters(matrix: ArrayLike<number>, n: number, options: Partial<PersistentHomologySettings> = {}): PersistentHomologyResult {
  const settings = validatePersistentHomologySettings({ ...DEFAULT_PERSISTENT_HOMOLOGY, ...options });
  if (matrix.length !== n * n) throw new FactlabError('bad-option', `The distance matrix has ${matrix.length} entries, not ${n}×${n}.`);
  const pairs: Array<{ i: number; j: number; d: number }> = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) pairs.push({ i, j, d: matrix[i * n + j] });
  const finite = pairs.filter((p) => p.d < settings.infThreshold).map((p) => p.d);
  const empty: PersistentHomologyResult = {
    settings, finiteDistances: finite.length, radius: null, edges: 0, processedEdges: 0, maxEdgeWeight: null, births: Array(n).fill(0), persistenceThreshold: null, clusters: [],
  };
  if (finite.length === 0) return empty;

  const radius = quantile(finite, settings.distanceQuantile);
  // Array.prototype.sort is stable: ties keep the upper-triangle order.
  const edges = pairs.filter((p) => p.d < radius).sort((a, b) => a.d - b.d);
  const processed = Math.floor(settings.fractionOfEdges * edges.length);
  const uf = new BirthUnionFind(n);
  for (const e of edges.slice(0, processed)) uf.union(e.i, e.j, e.d);
  const persistenceThreshold = quantile(uf.birth, settings.persistenceQuantile);
  const maxEdgeWeight = edges.length ? edges[edges.length - 1].d : null;

  const components = new Map<number, number[]>();
  for (let k = 0; k < n; k++) {
    const root = uf.find(k);
    components.set(root, [...(components.get(root) ?? []), k]);
  }
  const clusters: CandidateCluster[] = [];
  if (maxEdgeWeight !== null) {
    for (const [root, members] of components) {
      if (members.length < 2) continue;
      const persistence = maxEdgeWeight - uf.birth[root];
      if (persistence > persistenceThreshold) clusters.push({ members, root, birth: uf.birth[root], persistence });
    }
  }
  clusters.sort((a, b) => a.members[0] - b.members[0]);
  return { ...empty, radius, edges: edges.length, processedEdges: processed, maxEdgeWeight, births: [...uf.birth], persistenceThreshold, clusters };
}
