/**
 * Integration grids for integrated gradients over α ∈ [0, 1] (methods.md D3, §3.11 #2).
 *   right      α = k/m, k = 1..m, weight 1/m        (the paper's sum; factlab default)
 *   left       α = k/m, k = 0..m−1, weight 1/m      (the official code)
 *   trapezoid  α = k/m, k = 0..m, half weight at both ends
 *   eleuther   α = linspace(0, 1, m), weight 1/m    (EleutherAI; ≈5% low at m = 20)
 */
import { FactlabError } from '../errors';

export const RULES = ['right', 'left', 'trapezoid', 'eleuther'] as const;
export type RiemannRule = (typeof RULES)[number];

export const MAX_STEPS = 1000;

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
    default:
      throw new FactlabError('bad-option', `rule must be one of ${RULES.join(', ')}, got "${String(rule)}".`);
  }
}
