/**
 * Integration grids for integrated gradients over α ∈ [0, 1] (methods.md D3, §3.11 #2).
 *   right      α = k/m, k = 1..m, weight 1/m        (the paper's sum; factlab default)
 *   left       α = k/m, k = 0..m−1, weight 1/m      (the official code)
 *   trapezoid  α = k/m, k = 0..m, half weight at both ends
 *   eleuther   α = linspace(0, 1, m), weight 1/m    (EleutherAI; ≈5% low at m = 20)
 *   gauss      the m Gauss–Legendre nodes and weights on [0, 1] (our choice: exact for
 *              polynomials of degree 2m − 1, so completeness holds at m = 20 where the
 *              Riemann sums carry their O(1/m) bias)
 */
import { FactlabError } from '../errors';

export const RULES = ['right', 'left', 'trapezoid', 'eleuther', 'gauss'] as const;
export type RiemannRule = (typeof RULES)[number];

export const MAX_STEPS = 1000;

/** Where the path starts: the zero activation, or AMIG's mean EOS-substituted activation (amig.ts). */
export const IG_BASELINES = ['zero', 'amig'] as const;
export type IgBaseline = (typeof IG_BASELINES)[number];

/** `value` as an IG baseline, or a bad-option error naming the setting. */
export function checkIgBaseline(value: unknown, name: string): IgBaseline {
  if (!(IG_BASELINES as readonly unknown[]).includes(value)) throw new FactlabError('bad-option', `${name} must be one of ${IG_BASELINES.join(', ')}, got "${String(value)}".`);
  return value as IgBaseline;
}

export function riemannGrid(rule: RiemannRule, steps: number): { alphas: number[]; weights: number[] } {
  if (!Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS) {
    throw new FactlabError('bad-option', `steps must be an integer from 1 to ${MAX_STEPS}, got ${steps}.`);
  }
  const m = steps;
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
  switch (rule) {
    case 'right':
      return { alphas: range(1, m).map((k) => k / m), weights: Array(m).fill(1 / m) };
    case 'left':
      return { alphas: range(0, m - 1).map((k) => k / m), weights: Array(m).fill(1 / m) };
    case 'trapezoid':
      return { alphas: range(0, m).map((k) => k / m), weights: range(0, m).map((k) => (k === 0 || k === m ? 0.5 / m : 1 / m)) };
    case 'eleuther':
      return { alphas: range(0, m - 1).map((k) => (m === 1 ? 0 : k / (m - 1))), weights: Array(m).fill(1 / m) };
    case 'gauss':
      return gaussLegendre(m);
    default:
      throw new FactlabError('bad-option', `rule must be one of ${RULES.join(', ')}, got "${String(rule)}".`);
  }
}

/** Nodes (ascending) and weights of m-point Gauss–Legendre quadrature, mapped from [−1, 1] to [0, 1]. */
function gaussLegendre(m: number): { alphas: number[]; weights: number[] } {
  const alphas: number[] = [];
  const weights: number[] = [];
  for (let i = 0; i < m; i++) {
    // Newton's method on P_m from the Chebyshev-like first guess converges in a few steps.
    let x = Math.cos((Math.PI * (i + 0.75)) / (m + 0.5));
    let derivative = 0;
    for (let iteration = 0; iteration < 100; iteration++) {
      let p0 = 1;
      let p1 = x;
      for (let k = 2; k <= m; k++) [p0, p1] = [p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k];
      derivative = (m * (x * p1 - p0)) / (x * x - 1);
      const dx = p1 / derivative;
      x -= dx;
      if (Math.abs(dx) < 1e-15) break;
    }
    alphas.push((1 - x) / 2);
    weights.push(1 / ((1 - x * x) * derivative * derivative));
  }
  return { alphas, weights };
}
