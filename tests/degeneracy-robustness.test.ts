import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { degeneracyAnalysis } from '../src/core/degeneracy/analysis';
import { degeneracyCurve, summarizeCurves } from '../src/core/degeneracy/curve';
import { factRobustness, perturbPrompt, PERTURBATIONS, summarizeRobustness, type EncodedItem, type Perturbation } from '../src/core/degeneracy/robustness';
import { answerProbs, answerProbsWithNeurons, relativeDrop, scaleNeuronsHooks } from '../src/core/knowledge/patching';
import { neuronKey, type Neuron } from '../src/core/knowledge/refine';
import { disposeWeights } from '../src/core/model/weights';
import { makeRng } from '../src/core/random';
import { smallConfig } from '../scripts/lib/random-checkpoint';
import { randomFixture, tensorCount, useWasm, type Fixture } from './helpers/tf';

beforeAll(useWasm);

describe('perturbPrompt', () => {
  const prompt = 'The capital of France is';
  it('adds a marker after the first word, replaces or deletes exactly one inner word', () => {
    for (let seed = 0; seed < 40; seed++) {
      const added = perturbPrompt(prompt, 'add', makeRng(seed))!.split(' ');
      expect(added).toHaveLength(6);
      expect(added[0]).toBe('The');
      expect(added.filter((w) => w === '[ADDED]')).toHaveLength(1);
      expect(added.filter((w) => w !== '[ADDED]').join(' ')).toBe(prompt);
      const replaced = perturbPrompt(prompt, 'replace', makeRng(seed))!.split(' ');
      expect(replaced).toHaveLength(5);
      expect([replaced[0], replaced[4]]).toEqual(['The', 'is']);
      expect(replaced.filter((w, k) => w !== prompt.split(' ')[k])).toEqual(['[REPLACED]']);
      const deleted = perturbPrompt(prompt, 'delete', makeRng(seed))!.split(' ');
      expect(deleted).toHaveLength(4);
      expect([deleted[0], deleted[3]]).toEqual(['The', 'is']);
    }
  });
  it('is seeded, takes other words, and gives null when there is no inner word', () => {
    expect(perturbPrompt(prompt, 'replace', makeRng(3))).toBe(perturbPrompt(prompt, 'replace', makeRng(3)));
    expect(perturbPrompt(prompt, 'add', makeRng(3), { added: 'really', replaced: 'the' })).toContain('really');
    expect(perturbPrompt('Paris is', 'delete', makeRng(1))).toBeNull();
    expect(perturbPrompt('Paris is', 'replace', makeRng(1))).toBeNull();
    expect(perturbPrompt('Paris is', 'add', makeRng(1))).not.toBeNull();
  });
});

describe('factRobustness on a tiny random checkpoint', () => {
  let fixture: Fixture;
  beforeAll(() => {
    fixture = randomFixture({ config: smallConfig({ nLayer: 3 }), seed: 7, std: 0.4 });
  });
  afterAll(() => disposeWeights(fixture.weights));

  const targetIds = [23];
  const clean: EncodedItem[] = [{ promptIds: [4, 8, 15, 16], targetIds }, { promptIds: [5, 9, 15], targetIds }];
  const perturbed: Record<Perturbation, Array<EncodedItem | null>> = {
    add: [{ promptIds: [4, 8, 30, 15, 16], targetIds }, { promptIds: [5, 30, 9, 15], targetIds }],
    replace: [{ promptIds: [4, 31, 15, 16], targetIds }, { promptIds: [5, 31, 15], targetIds }],
    delete: [{ promptIds: [4, 15, 16], targetIds }, null],
  };
  const dkn: Neuron[] = [[0, 3], [1, 5], [2, 9]];
  const kn: Neuron[] = [...dkn, [0, 11], [2, 40]];

  it('measures ΔProb against the clean prompt for every set, matches a random set to the DKN; no tensor leaks', async () => {
    const before = tensorCount();
    const r = await factRobustness(fixture.weights, { clean, perturbed, dkn, kn }, { seed: 5 });
    expect(tensorCount()).toBe(before);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    expect(r.sets.random.map(([l]) => l)).toEqual(dkn.map(([l]) => l));
    expect(r.sets.random.some((n) => kn.some((k) => neuronKey(k) === neuronKey(n)))).toBe(false);
    expect(r.byPerturbation.delete!.prompts).toBe(1);
    const cleanProbs = await answerProbsWithNeurons(fixture.weights, clean, [], 1);
    for (const kind of PERTURBATIONS) {
      const items = perturbed[kind].filter((x): x is EncodedItem => x !== null);
      const rows = perturbed[kind].flatMap((x, k) => (x ? [k] : []));
      const res = r.byPerturbation[kind]!;
      for (const [set, neurons, scale] of [['none', [], 1], ['dkn', dkn, 0], ['kn', kn, 0], ['random', r.sets.random, 0]] as const) {
        const after = await answerProbsWithNeurons(fixture.weights, items, [...neurons], scale);
        const expected = after.reduce((a, p, k) => a + relativeDrop(cleanProbs[rows[k]].prob, p.prob), 0) / items.length;
        expect(res.deltaProb[set]).toBeCloseTo(expected, 10);
      }
      for (const set of ['dkn', 'kn', 'random'] as const) expect(res.recovered[set]).toBeLessThanOrEqual(res.failures);
    }
    const table = summarizeRobustness([r, r]);
    expect(table.facts).toBe(2);
    expect(table.rows.replace.deltaProb!.dkn).toBeCloseTo(r.byPerturbation.replace!.deltaProb.dkn, 12);
    expect(table.rows.delete.failures).toBe(2 * r.byPerturbation.delete!.failures);
  });

  it("the weights variant scales the value slots: the same as scaling the activations at every position, not only the answer's", async () => {
    const before = tensorCount();
    const weightsRun = await factRobustness(fixture.weights, { clean, perturbed, dkn, kn }, { seed: 5, variant: 'weights' });
    const valuesRun = await factRobustness(fixture.weights, { clean, perturbed, dkn, kn }, { seed: 5 });
    expect(tensorCount()).toBe(before);
    const cleanProbs = await answerProbsWithNeurons(fixture.weights, clean, [], 1);
    const items = perturbed.add as EncodedItem[];
    const everywhere = (neurons: Neuron[]) => answerProbs(fixture.weights, items, { hooksFor: () => scaleNeuronsHooks(neurons, 0, items.map((it) => [...Array(it.promptIds.length + it.targetIds.length - 1).keys()])) });
    for (const set of ['dkn', 'kn'] as const) {
      const after = await everywhere(weightsRun.sets[set]);
      const expected = after.reduce((a, p, k) => a + relativeDrop(cleanProbs[k].prob, p.prob), 0) / items.length;
      expect(weightsRun.byPerturbation.add!.deltaProb[set]).toBeCloseTo(expected, 5);
      expect(weightsRun.byPerturbation.add!.deltaProb[set]).not.toBeCloseTo(valuesRun.byPerturbation.add!.deltaProb[set], 5);
    }
    expect(weightsRun.byPerturbation.add!.deltaProb.none).toBe(valuesRun.byPerturbation.add!.deltaProb.none);
  });

  it('refuses an empty DKN set', async () => {
    await expect(factRobustness(fixture.weights, { clean, perturbed, dkn: [], kn })).rejects.toThrow(/non-empty DKN/);
  });
});

describe('degeneracyCurve', () => {
  it('gives a point per number of clusters, the all-clusters drop last, controls off the located neurons', async () => {
    const clusters: Neuron[][] = [[[0, 1], [1, 2]], [[0, 3], [2, 4]], [[1, 5], [2, 6], [2, 7]]];
    const located = clusters.flat();
    const keys = new Set(located.map(neuronKey));
    // A drop that counts located neurons: degenerate-looking data with an exactly known curve.
    const drop = async (s: Neuron[]) => s.filter((n) => keys.has(neuronKey(n))).length / located.length;
    const curve = await degeneracyCurve(clusters, located, 64, drop, { seed: 1 });
    expect(curve.points.map((p) => p.size)).toEqual([1, 2, 3]);
    expect(curve.points.map((p) => p.count)).toEqual([3, 3, 1]);
    expect(curve.points[0].mean).toBeCloseTo(7 / 3 / 7, 12);
    expect(curve.points[1].mean).toBeCloseTo(14 / 3 / 7, 12);
    expect(curve.all).toBe(1);
    expect(curve.points[2].mean).toBe(1);
    expect(curve.bestSingle).toBeCloseTo(3 / 7, 12);
    for (const p of curve.points) expect(p.control).toBe(0);
  });

  it("reuses the pipeline's subset analysis: only the controls are measured again", async () => {
    const clusters: Neuron[][] = [[[0, 1], [1, 2]], [[0, 3], [2, 4]]];
    const located = clusters.flat();
    const keys = new Set(located.map(neuronKey));
    const drop = async (s: Neuron[]) => s.filter((n) => keys.has(neuronKey(n))).length / located.length;
    const analysis = await degeneracyAnalysis(clusters, drop, { seed: 1 });
    const calls: Neuron[][] = [];
    const counting = async (s: Neuron[]) => (calls.push(s), drop(s));
    const curve = await degeneracyCurve(clusters, located, 64, counting, { seed: 1, analysis });
    expect(curve).toEqual(await degeneracyCurve(clusters, located, 64, drop, { seed: 1 }));
    expect(calls).toHaveLength(3); // two single-cluster controls and one all-clusters control
    expect(calls.every((s) => s.every((n) => !keys.has(neuronKey(n))))).toBe(true);
    // An analysis of other clusters (here: of fewer) is not taken for these.
    const other = await degeneracyAnalysis(clusters.slice(0, 1), drop, { seed: 1 });
    expect((await degeneracyCurve(clusters, located, 64, drop, { seed: 1, analysis: other })).all).toBe(1);
  });
});

describe('summarizeCurves', () => {
  const point = (size: number, mean: number, control: number) => ({ size, mean, control, count: 1 });
  it('averages per size over the facts that reach it, and the all-clusters point whatever n', () => {
    const two = { clusters: 2, points: [point(1, 0.1, 0), point(2, 0.4, 0.02)], bestSingle: 0.15, all: 0.4 };
    const three = { clusters: 3, points: [point(1, 0.05, 0), point(2, 0.1, 0), point(3, 0.2, 0.01)], bestSingle: 0.3, all: 0.2 };
    const s = summarizeCurves([two, three]);
    expect(s.facts).toBe(2);
    expect(s.points.map((p) => [p.size, p.facts])).toEqual([[1, 2], [2, 2], [3, 1]]);
    expect(s.points[1].mean).toBeCloseTo(0.25, 12);
    expect(s.points[2].mean).toBeCloseTo(0.2, 12);
    expect(s.allClusters.mean).toBeCloseTo(0.3, 12);
    expect(s.allClusters.control).toBeCloseTo(0.015, 12);
    expect(s.meanBestSingle).toBeCloseTo(0.225, 12);
    expect(s.allAboveBestSingle).toBe(1);
    expect(s.meanAllMinusBest).toBeCloseTo(0.075, 12);
    expect(summarizeCurves([])).toEqual({ facts: 0, points: [], allClusters: { mean: null, control: null }, meanBestSingle: null, allAboveBestSingle: 0, meanAllMinusBest: null });
  });
});
