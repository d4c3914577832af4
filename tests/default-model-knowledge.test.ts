/**
 * The knowledge-neurons paper's claims, checked on the shipped default model over 100 facts of
 * all relations (the same run as `npm run bench:knowledge`, which prints the full table):
 * suppressing a fact's refined neurons lowers its probability by ≥ 29% on average (paper:
 * −29.03%) while other relations' facts move ≤ 5%; the activation baseline does clearly
 * worse; with m = 20 the Gauss–Legendre rule is complete within 2% in every case of layers
 * 1–3, and in the median case overall.
 *
 * Not asserted, because it does not hold here (see README and `npm run bench:completeness`):
 * amplifying (×2) does not raise the probability — the model already gives its facts
 * P ≈ 0.98 —, the right-rule completeness error at m = 20 has a median of ~6% (the rule's
 * O(1/m) bias), and in layer 0, where P jumps over a narrow band of α, 20 points of any rule
 * are too few (the error there goes to 0 by m = 400).
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR } from '../src/cli/common';
import { Gpt2Engine } from '../src/core/engine';
import { importFacts } from '../src/core/facts/io';
import { factPrompts, targetFor } from '../src/core/facts/prompts';
import type { FactSet } from '../src/core/facts/types';
import { parseModelSource } from '../src/core/hub/source';
import { evaluateInterventions, sampleFacts, type InterventionEvaluation } from '../src/core/knowledge/evaluate';
import { REFINE_PRESETS } from '../src/core/knowledge/refine';
import { useWasm } from './helpers/tf';

let ig: InterventionEvaluation;
let set: FactSet;
let activation: InterventionEvaluation;

beforeAll(async () => {
  await useWasm();
  const engine = await Gpt2Engine.load(parseModelSource('default'), { defaultLocation: DEFAULT_MODEL_DIR });
  set = importFacts(readFileSync(`${DEFAULT_MODEL_DIR}/facts.json`), { fileName: 'facts.json' });
  const facts = sampleFacts(set, 100, 42);
  ig = await evaluateInterventions(engine.factModel, set, facts, { method: 'ig', refine: REFINE_PRESETS.project, seed: 42 });
  activation = await evaluateInterventions(engine.factModel, set, facts, { method: 'activation', refine: REFINE_PRESETS.project, seed: 42 });
  engine.dispose();
}, 600_000);

describe('knowledge neurons of the default model', () => {
  it('covers at least 100 facts of at least 4 relations, with neurons for most facts', () => {
    expect(ig.facts).toBeGreaterThanOrEqual(100);
    expect(ig.relations.length).toBeGreaterThanOrEqual(4);
    expect(ig.factsWithoutNeurons).toBeLessThan(ig.facts / 2);
  });

  it('suppressing a fact’s neurons removes it and leaves other relations alone', () => {
    expect(ig.suppress.own.ratioOfMeans).toBeLessThanOrEqual(-0.29);
    expect(Math.abs(ig.suppress.other.ratioOfMeans)).toBeLessThanOrEqual(0.05);
  });

  it('the activation baseline does clearly worse', () => {
    expect(activation.suppress.own.ratioOfMeans).toBeGreaterThan(ig.suppress.own.ratioOfMeans / 2);
  });

  it('integrated gradients (Gauss–Legendre, m = 20) are complete within 2% in layers 1–3 and for the median layer, where |ΔP| > 1e-3', async () => {
    const engine = await Gpt2Engine.load(parseModelSource('default'), { defaultLocation: DEFAULT_MODEL_DIR });
    const errors: number[] = [];
    const upperLayerErrors: number[] = [];
    for (const fact of sampleFacts(set, 30, 7)) {
      const { promptIds, targetIds } = engine.encodeFact(factPrompts(set, fact)[0], targetFor(fact));
      const result = await engine.attribute(promptIds, targetIds, { steps: 20, rule: 'gauss' });
      for (const l of result.layers) {
        if (Math.abs(l.delta) <= 1e-3) continue;
        errors.push(l.relError);
        if (l.layer > 0) upperLayerErrors.push(l.relError);
      }
    }
    engine.dispose();
    errors.sort((a, b) => a - b);
    expect(errors.length).toBeGreaterThan(30);
    expect(upperLayerErrors.length).toBeGreaterThan(30);
    console.log(`completeness (gauss, m = 20): median ${errors[Math.floor(errors.length / 2)]}, p90 ${errors[Math.floor(0.9 * errors.length)]}, n ${errors.length}; layers 1–3 max ${Math.max(...upperLayerErrors)}`);
    expect(errors[Math.floor(errors.length / 2)]).toBeLessThanOrEqual(0.02);
    expect(Math.max(...upperLayerErrors)).toBeLessThanOrEqual(0.02);
  });
});
