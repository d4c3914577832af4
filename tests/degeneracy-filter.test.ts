import { describe, expect, it } from 'vitest';
import { binomial, combinations, degeneracyAnalysis, matchedRandomNeurons, randomControls, subsetsToMeasure } from '../src/core/degeneracy/analysis';
import { functionalFilter, type DropFn } from '../src/core/degeneracy/filter';
import { resolveDknSettings } from '../src/core/degeneracy/settings';
import { neuronKey, type Neuron } from '../src/core/knowledge/refine';
import { makeRng } from '../src/core/random';

/** A fake drop: each cluster's drop alone, and a table for unions (keyed by sorted neuron keys). */
function fakeDrop(table: Record<string, number>, calls: string[] = []): DropFn {
  return async (neurons) => {
    const key = neurons.map(neuronKey).sort().join(' ');
    calls.push(key);
    return table[key] ?? 0;
  };
}

const B0: Neuron[] = [[0, 1], [1, 2]];
const B1: Neuron[] = [[2, 3], [3, 4]];
const B2: Neuron[] = [[1, 5], [2, 6]];

describe('functional filter', () => {
  it('keeps clusters with drop < 0.05; DKN iff ≥ 2 pass and the joint drop ≥ 0.3', async () => {
    const table = { '0:1 1:2': 0.01, '2:3 3:4': 0.2, '1:5 2:6': 0.049, '0:1 1:2 1:5 2:6': 0.5 };
    const r = await functionalFilter([B0, B1, B2], fakeDrop(table));
    expect(r.decisions.map((d) => [d.cluster, d.drop, d.passed])).toEqual([[0, 0.01, true], [1, 0.2, false], [2, 0.049, true]]);
    expect(r.passing).toEqual([0, 2]);
    expect(r.jointDrop).toBe(0.5);
    expect(r.exists).toBe(true);
    expect(r.reason).toBe('degenerate');
  });

  it('reports the joint drop even when it is below jointDropMin', async () => {
    const r = await functionalFilter([B0, B2], fakeDrop({ '0:1 1:2 1:5 2:6': 0.29 }));
    expect(r.passing).toEqual([0, 1]);
    expect(r.jointDrop).toBe(0.29);
    expect(r.exists).toBe(false);
    expect(r.reason).toBe('joint-drop-below-min');
    expect((await functionalFilter([B0, B2], fakeDrop({ '0:1 1:2 1:5 2:6': 0.29 }), { jointDropMin: 0.2 })).exists).toBe(true);
  });

  it('fewer than two candidates, or fewer than two passing, is no DKN; singletons are not tested', async () => {
    const one = await functionalFilter([B0], fakeDrop({ '0:1 1:2': 0 }));
    expect(one.reason).toBe('fewer-than-2-candidates');
    expect(one.jointDrop).toBe(0);
    const calls: string[] = [];
    const r = await functionalFilter([B0, [[4, 4]], B1], fakeDrop({ '0:1 1:2': 0.5 }, calls));
    expect(r.decisions[1]).toEqual({ cluster: 1, size: 1, drop: null, passed: false });
    expect(r.passing).toEqual([2]);
    expect(r.reason).toBe('fewer-than-2-passing');
    expect(calls).toEqual(['0:1 1:2', '2:3 3:4', '2:3 3:4']);
    const none = await functionalFilter([], fakeDrop({}));
    expect([none.jointDrop, none.reason]).toEqual([null, 'fewer-than-2-candidates']);
  });

  it('checks for cancellation', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(functionalFilter([B0, B1], fakeDrop({}), {}, controller.signal)).rejects.toThrow(/cancelled/);
  });
});

describe('degeneracy analysis', () => {
  it('every proper non-empty subset for n ≤ 12, mean per size, and all', async () => {
    // drop = 0.1 per suppressed cluster, 0.9 for all three
    const clusters = [B0, B1, B2];
    const drop: DropFn = async (neurons) => (neurons.length === 6 ? 0.9 : 0.1 * (neurons.length / 2));
    const r = await degeneracyAnalysis(clusters, drop);
    expect(r.exhaustive).toBe(true);
    expect(r.subsets.map((s) => s.members)).toEqual([[0], [1], [2], [0, 1], [0, 2], [1, 2]]);
    expect(r.meanBySize.map((m) => [m.size, m.count])).toEqual([[1, 3], [2, 3]]);
    expect(r.meanBySize[0].mean).toBeCloseTo(0.1, 12);
    expect(r.meanBySize[1].mean).toBeCloseTo(0.2, 12);
    expect(r.all).toBe(0.9);
  });

  it('samples 64 distinct subsets per size when n > 12, deterministically', () => {
    expect(binomial(13, 2)).toBe(78);
    expect(combinations(4, 2)).toEqual([[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]);
    const settings = { maxExhaustive: 12, samplesPerSize: 64, seed: 42 };
    const plan = subsetsToMeasure(13, settings);
    expect(plan.exhaustive).toBe(false);
    for (let k = 1; k < 13; k++) {
      const ofSize = plan.subsets.filter((s) => s.length === k);
      expect(ofSize).toHaveLength(Math.min(binomial(13, k), 64));
      expect(new Set(ofSize.map((s) => s.join(','))).size).toBe(ofSize.length);
      for (const s of ofSize) expect(s.every((x, i) => x >= 0 && x < 13 && (i === 0 || x > s[i - 1]))).toBe(true);
    }
    expect(subsetsToMeasure(13, settings)).toEqual(plan);
    expect(subsetsToMeasure(13, { ...settings, seed: 7 })).not.toEqual(plan);
    expect(subsetsToMeasure(12, settings).subsets).toHaveLength(2 ** 12 - 2);
  });

  it('random controls: same size and layers, never a located neuron, seeded', async () => {
    const located = [...B0, ...B1];
    const rng = makeRng(1);
    for (let t = 0; t < 50; t++) {
      const set = matchedRandomNeurons(B0, 8, new Set(located.map(neuronKey)), rng);
      expect(set.map(([l]) => l)).toEqual([0, 1]);
      for (const n of set) expect(located.map(neuronKey)).not.toContain(neuronKey(n));
    }
    const drop: DropFn = async (neurons) => neurons.length / 10;
    const r = await randomControls([B0, B1], located, 8, drop, { repeats: 2, seed: 3 });
    expect(r.controls.map((c) => [c.target, c.size, c.drops.length])).toEqual([[0, 2, 2], [1, 2, 2], ['all', 4, 2]]);
    expect(r.controls[2].mean).toBeCloseTo(0.4);
    expect(await randomControls([B0, B1], located, 8, drop, { repeats: 2, seed: 3 })).toEqual(r);
    // a layer with no free neuron left is an error, not an endless loop
    expect(() => matchedRandomNeurons([[0, 0], [0, 1]], 2, new Set(['0:0']), rng)).toThrow(/no neuron left/);
  });
});

describe('settings', () => {
  it('presets and validation', () => {
    const project = resolveDknSettings();
    expect([project.site, project.rule, project.steps, project.pathRule, project.coarse.strict, project.path]).toEqual(['post', 'right', 20, 'project', false, 'zero']);
    expect(project.filter).toEqual({ thresholdLow: 0.05, jointDropMin: 0.3 });
    expect(project.clustering).toEqual({ distanceQuantile: 0.2, fractionOfEdges: 0.5, persistenceQuantile: 0.5, infThreshold: 100 });
    const code = resolveDknSettings({ preset: 'dkn-code', steps: 4 });
    expect([code.site, code.rule, code.steps, code.pathRule, code.coarse.strict, code.refine, code.path]).toEqual(['pre', 'left', 4, 'dkn-code', true, null, 'amig']);
    expect(code.notes.join(' ')).toMatch(/teacher forcing/);
    expect(resolveDknSettings({ path: 'amig' }).path).toBe('amig');
    expect(resolveDknSettings({ seed: 5 }).analysis.seed).toBe(5);
    expect(() => resolveDknSettings({ preset: 'nope' as 'project' })).toThrow(/preset must be/);
    expect(() => resolveDknSettings({ path: 'mean' as 'zero' })).toThrow(/path must be one of zero, amig/);
    expect(() => resolveDknSettings({ filter: { jointDropMin: 2 } })).toThrow(/jointDropMin/);
    expect(() => resolveDknSettings({ baselines: ['magic' as 'dbscan'] })).toThrow(/unknown baseline/);
  });
});
