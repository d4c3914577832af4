/**
 * K-means baseline (methods.md §4.4): PCA of the adjacency (distance-matrix) rows keeping 95% of
 * the variance, then k-means with k = max(2, ⌊10% n⌋).
 *
 * - PCA: rows are centred, the covariance is diagonalised by cyclic Jacobi rotations (float64),
 *   and the number of components is scikit-learn's rule for a fractional `n_components`:
 *   1 + the number of cumulative explained-variance ratios ≤ 0.95.
 * - K-means: one k-means++ initialisation from the seeded RNG (our choice; scikit-learn runs
 *   several initialisations from its own RNG, which TS cannot reproduce), then Lloyd iterations
 *   until the assignment is stable (at most 300). An empty cluster keeps its centroid.
 */
import { makeRng } from '../random';
import { groupsFromLabels } from './baselines';

/** Eigen-decomposition of a symmetric matrix: eigenvalues descending, eigenvectors as columns. */
export function symmetricEigen(a: number[][]): { values: number[]; vectors: number[][] } {
  const n = a.length;
  const m = a.map((row) => [...row]);
  const v: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let scale = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) (i === j ? (scale += m[i][j] ** 2) : (off += m[i][j] ** 2));
    if (off <= 1e-22 * Math.max(scale, 1e-300)) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        if (m[p][q] === 0) continue;
        const theta = (m[q][q] - m[p][p]) / (2 * m[p][q]);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k][p];
          const mkq = m[k][q];
          m[k][p] = c * mkp - s * mkq;
          m[k][q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p][k];
          const mqk = m[q][k];
          m[p][k] = c * mpk - s * mqk;
          m[q][k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k][p];
          const vkq = v[k][q];
          v[k][p] = c * vkp - s * vkq;
          v[k][q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => m[y][y] - m[x][x] || x - y);
  return { values: order.map((i) => m[i][i]), vectors: v.map((row) => order.map((i) => row[i])) };
}

/** Rows projected on the principal components that keep `variance` of the total. */
export function pcaProject(rows: number[][], variance = 0.95): { components: number; projected: number[][] } {
  const n = rows.length;
  const f = rows[0]?.length ?? 0;
  const mean = Array.from({ length: f }, (_, j) => rows.reduce((a, r) => a + r[j], 0) / n);
  const centred = rows.map((r) => r.map((x, j) => x - mean[j]));
  const cov = Array.from({ length: f }, (_, a) => Array.from({ length: f }, (_, b) => centred.reduce((s, r) => s + r[a] * r[b], 0) / Math.max(n - 1, 1)));
  const { values, vectors } = symmetricEigen(cov);
  const positive = values.map((x) => Math.max(x, 0));
  const total = positive.reduce((a, b) => a + b, 0);
  let components = 1;
  if (total > 0) {
    let cumulative = 0;
    let atOrBelow = 0;
    for (const x of positive) {
      cumulative += x / total;
      if (cumulative <= variance) atOrBelow++;
    }
    components = Math.min(atOrBelow + 1, Math.min(n, f));
  }
  const projected = centred.map((r) => Array.from({ length: components }, (_, c) => r.reduce((s, x, j) => s + x * vectors[j][c], 0)));
  return { components, projected };
}

const sqDist = (a: number[], b: number[]) => a.reduce((s, x, j) => s + (x - b[j]) ** 2, 0);

/** Lloyd's k-means from a seeded k-means++ start; returns one label per point. */
export function kmeans(points: number[][], k: number, seed: number, maxIterations = 300): number[] {
  const n = points.length;
  const rng = makeRng(seed);
  const centroids: number[][] = [points[Math.floor(rng() * n)].slice()];
  while (centroids.length < k) {
    const weights = points.map((p) => Math.min(...centroids.map((c) => sqDist(p, c))));
    const total = weights.reduce((a, b) => a + b, 0);
    let pick = 0;
    if (total > 0) {
      let r = rng() * total;
      while (pick < n - 1 && (r -= weights[pick]) > 0) pick++;
    } else pick = centroids.length % n;
    centroids.push(points[pick].slice());
  }
  let labels = Array(n).fill(-1);
  for (let it = 0; it < maxIterations; it++) {
    const next = points.map((p) => {
      let best = 0;
      for (let c = 1; c < k; c++) if (sqDist(p, centroids[c]) < sqDist(p, centroids[best])) best = c;
      return best;
    });
    const stable = next.every((l, i) => l === labels[i]);
    labels = next;
    if (stable) break;
    for (let c = 0; c < k; c++) {
      const members = points.filter((_, i) => labels[i] === c);
      if (members.length) centroids[c] = members[0].map((_, j) => members.reduce((s, p) => s + p[j], 0) / members.length);
    }
  }
  return labels;
}

/** The §4.4 k-means baseline on a distance matrix. */
export function kmeansClusters(matrix: ArrayLike<number>, n: number, options: { seed?: number; variance?: number; kFraction?: number } = {}): { k: number; components: number; clusters: number[][] } {
  const k = Math.min(n, Math.max(2, Math.floor((options.kFraction ?? 0.1) * n)));
  if (n < 2) return { k, components: 0, clusters: [] };
  const rows = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => matrix[i * n + j]));
  const { components, projected } = pcaProject(rows, options.variance ?? 0.95);
  const labels = kmeans(projected, k, options.seed ?? 42);
  return { k, components, clusters: groupsFromLabels(labels) };
}
