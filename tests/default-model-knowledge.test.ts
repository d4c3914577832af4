/**
 * The knowledge-neurons paper's claims, checked on the shipped default model over 100 facts of
 * all relations (the same run as `npm run bench:knowledge`, which prints the full table):
 * suppressing a fact's refined neurons lowers its probability by ≥ 29% on average (paper:
 * −29.03%) while other relations' facts move ≤ 5%; amplifying raises it; the activation
 * baseline does clearly worse; IG completeness is within 2% for the typical layer.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR } from '../src/cli/common';
import { Engine } from '../src/core/engine';
import { importFacts } from '../src/core/facts/io';
import { parseModelSource } from '../src/core/hub/source';
import { evaluateInterventions, sampleFacts, type InterventionEvaluation } from '../src/core/knowledge/evaluate';
import { REFINE_PRESETS } from '../src/core/knowledge/refine';
import { useWasm } from './helpers/tf';

let ig: InterventionEvaluation;
let activation: InterventionEvaluation;

beforeAll(async () => {
  await useWasm();
  const engine = await Engine.load(parseModelSource('default'), { defaultLocation: DEFAULT_MODEL_DIR });
  const set = importFacts(readFileSync(`${DEFAULT_MODEL_DIR}/facts.json`), { fileName: 'facts.json' });
  const facts = sampleFacts(set, 100, 42);
  ig = await evaluateInterventions(engine.weights, engine.tokenizer, set, facts, { method: 'ig', refine: REFINE_PRESETS.project, seed: 42 });
  activation = await evaluateInterventions(engine.weights, engine.tokenizer, set, facts, { method: 'activation', refine: REFINE_PRESETS.project, seed: 42 });
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

  it('amplifying raises the fact’s probability', () => {
    expect(ig.amplify.own.ratioOfMeans).toBeGreaterThan(0);
  });

  it('the activation baseline does clearly worse', () => {
    expect(activation.suppress.own.ratioOfMeans).toBeGreaterThan(ig.suppress.own.ratioOfMeans / 2);
  });

  it('integrated gradients are complete within 2% for the typical layer (m = 20)', () => {
    const errors = ig.perFact.flatMap((f) => f.completeness.filter((c) => Math.abs(c.delta) > 1e-3).map((c) => c.relError)).sort((a, b) => a - b);
    expect(errors.length).toBeGreaterThan(100);
    expect(errors[Math.floor(errors.length / 2)]).toBeLessThanOrEqual(0.02);
  });
});
