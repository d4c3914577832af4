/**
 * Settings and presets of the degenerate-knowledge-neuron pipeline (methods.md §1 presets, §4.3, §4.5).
 *
 * | preset     | site | rule  | m  | IG path | coarse      | several prompts      | path rule |
 * | `project`  | post | right | 20 | zero    | ≥ 0.2·max   | D4 refining (p 0.7)  | project   |
 * | `dkn-code` | pre  | left  | 10 | amig    | > 0.2·max   | first prompt only    | dkn-code  |
 *
 * `dkn-code` attributes along the AMIG path, as heng840/DKN's `Dkn.scaled_input` does (§4.8).
 * The code's answer handling (lower-cased answer, no leading space, greedy continuation frozen
 * at the first argmax) is not applied: the pipeline scores the answer tokens it is given, with
 * teacher forcing. That is recorded as a note.
 */
import { FactlabError } from '../errors';
import { givenOptions } from '../options';
import type { NeuronSite } from '../knowledge/attribution';
import { REFINE_PRESETS, type RefineSettings } from '../knowledge/refine';
import { checkIgBaseline, RULES, type IgBaseline, type RiemannRule } from '../knowledge/riemann';
import { DEFAULT_ANALYSIS, DEFAULT_CONTROLS, type AnalysisSettings, type ControlSettings } from './analysis';
import { DEFAULT_PERSISTENT_HOMOLOGY, validatePersistentHomologySettings, type PersistentHomologySettings } from './clustering';
import type { PathRule } from './distances';
import { DEFAULT_FILTER, type FilterSettings } from './filter';

export const DKN_PRESETS = ['project', 'dkn-code'] as const;
export type DknPreset = (typeof DKN_PRESETS)[number];
export const BASELINES = ['pairwise', 'hierarchical', 'dbscan', 'kmeans'] as const;
export type BaselineName = (typeof BASELINES)[number];

export interface DknSettings {
  preset: DknPreset;
  site: NeuronSite;
  /** Where the integrated-gradient path starts (methods.md D6 `path`): zero, or AMIG's mean EOS-substituted activation. */
  path: IgBaseline;
  rule: RiemannRule;
  /** m, the number of integrated-gradient points. */
  steps: number;
  /** Inclusive layer range searched for knowledge neurons (default: all layers). */
  layers: [number, number] | null;
  /** Coarse threshold: score ≥ t·max (or > with `strict`). */
  coarse: { t: number; strict: boolean };
  /** With several prompts: D4 refining with these settings; null = use the first prompt only. */
  refine: RefineSettings | null;
  maxSpan: number;
  pathRule: PathRule;
  clustering: PersistentHomologySettings;
  filter: FilterSettings;
  analysis: AnalysisSettings;
  /** Random-neuron controls; null to skip them. */
  controls: ControlSettings | null;
  baselines: BaselineName[];
  seed: number;
  notes: string[];
}

export type DknOptions = Partial<Omit<DknSettings, 'clustering' | 'filter' | 'analysis' | 'controls' | 'coarse' | 'notes'>> & {
  clustering?: Partial<PersistentHomologySettings>;
  filter?: Partial<FilterSettings>;
  analysis?: Partial<AnalysisSettings>;
  controls?: Partial<ControlSettings> | null;
  coarse?: Partial<DknSettings['coarse']>;
};

export function presetSettings(preset: DknPreset): DknSettings {
  const shared = {
    layers: null,
    maxSpan: 3,
    clustering: { ...DEFAULT_PERSISTENT_HOMOLOGY },
    filter: { ...DEFAULT_FILTER },
    analysis: { ...DEFAULT_ANALYSIS },
    controls: { ...DEFAULT_CONTROLS },
    baselines: [] as BaselineName[],
    seed: 42,
  };
  if (preset === 'project') {
    return { preset, site: 'post', rule: 'right', steps: 20, path: 'zero', coarse: { t: 0.2, strict: false }, refine: { ...REFINE_PRESETS.project }, pathRule: 'project', ...shared, notes: [] };
  }
  if (preset === 'dkn-code') {
    return {
      preset, site: 'pre', rule: 'left', steps: 10, path: 'amig', coarse: { t: 0.2, strict: true }, refine: null, pathRule: 'dkn-code', ...shared,
      notes: [
        "the code's answer handling (lower-cased answer, no leading space, greedy continuation) is not applied: the given answer tokens are scored with teacher forcing",
        'one prompt per fact, as in the code: only the first prompt is used',
      ],
    };
  }
  throw new FactlabError('bad-option', `preset must be one of ${DKN_PRESETS.join(', ')}, got "${String(preset)}".`);
}

const fraction = (name: string, x: number) => {
  if (!(x >= 0 && x <= 1)) throw new FactlabError('bad-option', `${name} must be between 0 and 1, got ${x}.`);
};

export function resolveDknSettings(options: DknOptions = {}): DknSettings {
  const base = presetSettings(options.preset ?? 'project');
  const { clustering, filter, analysis, controls, coarse, ...rest } = options;
  const seed = options.seed ?? base.seed;
  const s: DknSettings = {
    ...base,
    ...givenOptions(rest),
    coarse: { ...base.coarse, ...coarse },
    clustering: validatePersistentHomologySettings({ ...base.clustering, ...clustering }),
    filter: { ...base.filter, ...filter },
    // The analysis and the controls draw from the run's seed unless given their own.
    analysis: { ...base.analysis, seed, ...analysis },
    controls: controls === null ? null : { ...base.controls!, seed, ...controls },
    notes: base.notes,
  };
  // The refining uses the same coarse threshold as a single prompt.
  if (s.refine) s.refine = { ...s.refine, t: s.coarse.t, strict: s.coarse.strict };
  checkIgBaseline(s.path, 'path');
  if (s.site !== 'post' && s.site !== 'pre') throw new FactlabError('bad-option', `site must be post or pre, got "${String(s.site)}".`);
  if (!(RULES as readonly string[]).includes(s.rule)) throw new FactlabError('bad-option', `rule must be one of ${RULES.join(', ')}.`);
  fraction('coarse t', s.coarse.t);
  fraction('thresholdLow', s.filter.thresholdLow);
  fraction('jointDropMin', s.filter.jointDropMin);
  if (!Number.isInteger(s.analysis.maxExhaustive) || s.analysis.maxExhaustive < 1) throw new FactlabError('bad-option', 'analysis.maxExhaustive must be a positive integer.');
  if (!Number.isInteger(s.analysis.samplesPerSize) || s.analysis.samplesPerSize < 1) throw new FactlabError('bad-option', 'analysis.samplesPerSize must be a positive integer.');
  if (s.controls && (!Number.isInteger(s.controls.repeats) || s.controls.repeats < 1)) throw new FactlabError('bad-option', 'controls.repeats must be a positive integer.');
  for (const b of s.baselines) if (!(BASELINES as readonly string[]).includes(b)) throw new FactlabError('bad-option', `unknown baseline "${b}"; choose from ${BASELINES.join(', ')}.`);
  return s;
}
