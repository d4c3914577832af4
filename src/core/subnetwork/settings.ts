/**
 * Settings of knowledge-critical subnetwork training (methods.md §5.4, §5.8, D7), the Node
 * defaults (the code's values), the browser profile, the schedules, and the list of deviations
 * every result records.
 */
import { FactlabError } from '../errors';
import { givenOptions } from '../options';
import type { Gpt2Config } from '../model/config';
import type { KlPosition } from './data';
import { DEFAULT_INIT_P } from './mask';

export interface SubnetSettings {
  /** Masked layers; null = the top `topLayers` layers, or the top ⌈n_layer/2⌉ when that is null too. */
  layers: number[] | null;
  topLayers: number | null;
  steps: number;
  learningRate: number;
  /** Linear warm-up over this fraction of the steps (PyTorch LinearLR), then constant. */
  warmupFraction: number;
  warmupStartFactor: number;
  adam: { beta1: number; beta2: number; epsilon: number };
  /** Loss weights: 1.5·suppress(TargetKG) + 1.0·maintain(ControlKG) + 1.0·maintain(ControlLM). */
  lambdas: { suppress: number; controlKg: number; controlLm: number };
  /** λ_reg: `init` for the first half, then linear to `final` at the last step. */
  lambdaReg: { init: number; final: number };
  initP: number;
  temperature: number;
  /** ControlKG sentences per step. */
  controlKgBatch: number;
  /** ControlLM blocks per step and their length in tokens. */
  controlLmBatch: number;
  controlLmBlock: number;
  /** At most this many ControlLM training blocks are used (the code: the first 4,656 WikiText-2 blocks). */
  controlLmMaxBlocks: number;
  klPosition: KlPosition;
  scoreAllTailTokens: boolean;
  /** Vocabulary chunk of the KL; 0 = the whole vocabulary at once. */
  vocabChunk: number;
  /** 'per-forward': a fresh noise sample for each forward pass (as a masked module samples in its forward); 'per-step': one per step. */
  noise: 'per-forward' | 'per-step';
  /** Evaluate (eval-mode masks) every this many steps; checkpoint the logits every this many steps. */
  evalEvery: number;
  checkpointEvery: number;
  /** ControlKG items used for the progress evaluation (the code validates on the first 50). */
  controlEvalItems: number;
  seed: number;
  /**
   * Work of one unit of a training step, in multiply-adds: a cancel waits for at most about one
   * unit. Micro-batches and head rows are sized from it (`unitTokens`); the results differ only by
   * float rounding. 2e9 is ≈ 0.2–0.3 s on wasm (1 thread), one micro-batch per term on the default model.
   */
  unitMacs: number;
}

export const NODE_DEFAULTS: SubnetSettings = {
  layers: null,
  topLayers: null,
  steps: 40_000,
  learningRate: 0.2,
  warmupFraction: 0.1,
  warmupStartFactor: 1e-10,
  adam: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
  lambdas: { suppress: 1.5, controlKg: 1, controlLm: 1 },
  lambdaReg: { init: 2, final: 3 },
  initP: DEFAULT_INIT_P,
  temperature: 1,
  controlKgBatch: 250,
  controlLmBatch: 10,
  controlLmBlock: 512,
  controlLmMaxBlocks: 4656,
  klPosition: 'predicting',
  scoreAllTailTokens: false,
  vocabChunk: 0,
  noise: 'per-forward',
  evalEvery: 100,
  checkpointEvery: 200,
  controlEvalItems: 50,
  seed: 1318,
  unitMacs: 2e9,
};

/** §5.8 browser profile (our choice, to be tuned by benchmarks); every difference is recorded as a deviation. */
export const BROWSER_PROFILE: Partial<SubnetSettings> = {
  topLayers: 2,
  steps: 2000,
  controlKgBatch: 64,
  controlLmBatch: 2,
  controlLmBlock: 128,
  vocabChunk: 8192,
};

export type SubnetOptions = Partial<Omit<SubnetSettings, 'adam' | 'lambdas' | 'lambdaReg'>> & {
  adam?: Partial<SubnetSettings['adam']>;
  lambdas?: Partial<SubnetSettings['lambdas']>;
  lambdaReg?: Partial<SubnetSettings['lambdaReg']>;
  profile?: 'node' | 'browser';
};

export function resolveSettings(options: SubnetOptions = {}): SubnetSettings {
  const { profile, adam, lambdas, lambdaReg, ...rest } = options;
  const base = { ...NODE_DEFAULTS, ...(profile === 'browser' ? BROWSER_PROFILE : {}) };
  const s: SubnetSettings = {
    ...base,
    ...givenOptions(rest),
    adam: { ...base.adam, ...adam },
    lambdas: { ...base.lambdas, ...lambdas },
    lambdaReg: { ...base.lambdaReg, ...lambdaReg },
  };
  const positiveInt = (key: keyof SubnetSettings) => {
    const v = s[key] as number;
    if (!Number.isInteger(v) || v < 1) throw new FactlabError('bad-subnet-settings', `${key} must be a positive integer, got ${v}.`);
  };
  (['steps', 'controlKgBatch', 'controlLmBatch', 'controlLmMaxBlocks', 'evalEvery', 'checkpointEvery'] as const).forEach(positiveInt);
  if (!Number.isInteger(s.controlLmBlock) || s.controlLmBlock < 2) throw new FactlabError('bad-subnet-settings', `controlLmBlock must be an integer ≥ 2, got ${s.controlLmBlock}.`);
  if (!Number.isInteger(s.vocabChunk) || s.vocabChunk < 0) throw new FactlabError('bad-subnet-settings', `vocabChunk must be 0 (whole vocabulary) or a positive integer, got ${s.vocabChunk}.`);
  if (!(s.unitMacs >= 1)) throw new FactlabError('bad-subnet-settings', `unitMacs must be at least 1, got ${s.unitMacs}.`);
  if (!(s.lambdaReg.init >= 0 && s.lambdaReg.final >= 0 && s.lambdaReg.init <= 1000 && s.lambdaReg.final <= 1000)) {
    throw new FactlabError('bad-subnet-settings', `lambdaReg init and final must be numbers from 0 to 1000 (the code uses 2 → 3), got ${s.lambdaReg.init} → ${s.lambdaReg.final}.`);
  }
  if (!(s.learningRate > 0)) throw new FactlabError('bad-subnet-settings', `learningRate must be positive, got ${s.learningRate}.`);
  if (!(s.warmupFraction >= 0 && s.warmupFraction <= 1)) throw new FactlabError('bad-subnet-settings', `warmupFraction must be in [0, 1], got ${s.warmupFraction}.`);
  if (s.klPosition !== 'predicting' && s.klPosition !== 'label') throw new FactlabError('bad-subnet-settings', `klPosition must be 'predicting' or 'label', got ${String(s.klPosition)}.`);
  if (s.noise !== 'per-forward' && s.noise !== 'per-step') throw new FactlabError('bad-subnet-settings', `noise must be 'per-forward' or 'per-step', got ${String(s.noise)}.`);
  return s;
}

/**
 * Tokens per training micro-batch and per evaluation forward pass for a unit of `unitMacs`
 * multiply-adds: a training unit is one layer forward or one layer's backward (≈ 3 forwards, with
 * the recomputation), an evaluation unit a forward through the whole model. Per token and layer,
 * the four block matrices cost 4d² + 2·d·d_ff.
 */
export function unitTokens(config: Pick<Gpt2Config, 'nEmbd' | 'nInner' | 'nLayer'>, unitMacs: number): { training: number; evaluation: number } {
  const perLayer = 4 * config.nEmbd ** 2 + 2 * config.nEmbd * config.nInner;
  return { training: Math.max(1, Math.floor(unitMacs / (3 * perLayer))), evaluation: Math.max(1, Math.floor(unitMacs / (config.nLayer * perLayer))) };
}

export function warmupSteps(s: Pick<SubnetSettings, 'steps' | 'warmupFraction'>): number {
  return Math.round(s.warmupFraction * s.steps);
}

/**
 * Learning rate of optimizer step `step` (0-based), as PyTorch's LinearLR stepped after each
 * optimizer step: lr·(f0 + (1 − f0)·min(step, W)/W), so step 0 runs at lr·f0.
 */
export function learningRateAt(step: number, s: Pick<SubnetSettings, 'steps' | 'warmupFraction' | 'warmupStartFactor' | 'learningRate'>): number {
  const W = warmupSteps(s);
  if (W === 0) return s.learningRate;
  const f0 = s.warmupStartFactor;
  return s.learningRate * (f0 + ((1 - f0) * Math.min(step, W)) / W);
}

/**
 * λ_reg at step `step` (0-based; epoch t = step + 1 of E = steps): `init` while t ≤ E/2, then
 * linear to `final` at t = E.
 */
export function lambdaRegAt(step: number, s: Pick<SubnetSettings, 'steps' | 'lambdaReg'>): number {
  const E = s.steps;
  const t = step + 1;
  const half = E / 2;
  if (t <= half) return s.lambdaReg.init;
  return s.lambdaReg.init + ((s.lambdaReg.final - s.lambdaReg.init) * (Math.min(t, E) - half)) / (E - half);
}

export interface Deviation {
  setting: string;
  value: unknown;
  /** The Node default (the released code's value, or the project default where the code has none). */
  default: unknown;
}

/** Every setting that differs from the Node defaults, plus data-dependent deviations the trainer adds. */
export function deviationsOf(s: SubnetSettings, nLayer: number): Deviation[] {
  const out: Deviation[] = [];
  const defaultLayers = Array.from({ length: Math.ceil(nLayer / 2) }, (_, i) => nLayer - Math.ceil(nLayer / 2) + i);
  const layers = resolvedLayers(s, nLayer);
  if (layers.join() !== defaultLayers.join()) out.push({ setting: 'layers', value: layers, default: defaultLayers });
  const flat = (x: SubnetSettings): Record<string, unknown> => {
    const { layers: _l, topLayers: _t, adam, lambdas, lambdaReg, ...rest } = x;
    return { ...rest, ...prefixed('adam', adam), ...prefixed('lambdas', lambdas), ...prefixed('lambdaReg', lambdaReg) };
  };
  const mine = flat(s);
  const defaults = flat(NODE_DEFAULTS);
  for (const key of Object.keys(defaults)) if (mine[key] !== defaults[key]) out.push({ setting: key, value: mine[key], default: defaults[key] });
  return out;
}

function prefixed(prefix: string, o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [`${prefix}.${k}`, v]));
}

export function resolvedLayers(s: Pick<SubnetSettings, 'layers' | 'topLayers'>, nLayer: number): number[] {
  if (s.layers) return [...s.layers].sort((a, b) => a - b);
  const k = s.topLayers ?? Math.ceil(nLayer / 2);
  if (!Number.isInteger(k) || k < 1 || k > nLayer) throw new FactlabError('bad-mask-layers', `topLayers must be between 1 and ${nLayer}, got ${k}.`);
  return Array.from({ length: k }, (_, i) => nLayer - k + i);
}
