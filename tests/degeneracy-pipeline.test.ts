import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findDegenerateNeurons, type DknResult } from '../src/core/degeneracy/dkn';
import { summarizeDknResults } from '../src/core/degeneracy/summary';
import { attribute } from '../src/core/knowledge/attribution';
import { answerProbsWithNeurons, relativeDrop } from '../src/core/knowledge/patching';
import { coarseNeurons, type Neuron } from '../src/core/knowledge/refine';
import { cacheTransposesForGradients, disposeWeights } from '../src/core/model/weights';
import { smallConfig } from '../scripts/lib/random-checkpoint';
import { writeModelFolder, tinyGpt2Config } from './helpers/model-folder';
import { randomFixture, tensorCount, useWasm, type Fixture } from './helpers/tf';

beforeAll(useWasm);

/** The invariants every result record must satisfy. */
function checkRecord(r: DknResult): void {
  expect(r.method).toBe('degenerate-knowledge-neurons');
  expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  const n = r.neurons.length;
  const m = r.distances.matrix;
  expect(m).toHaveLength(n * n);
  for (let i = 0; i < n; i++) {
    expect(m[i * n + i]).toBe(0);
    for (let j = 0; j < n; j++) {
      expect(m[i * n + j]).toBe(m[j * n + i]);
      if (i !== j) expect(m[i * n + j]).toBeGreaterThan(0);
      if (r.neurons[i].layer === r.neurons[j].layer && i !== j) expect(m[i * n + j]).toBe(1000);
    }
  }
  expect(r.distances.finitePairs).toBeLessThanOrEqual(r.distances.pairs);
  const seen = new Set<number>();
  for (const c of r.clusters) {
    expect(c.members.length).toBeGreaterThanOrEqual(2);
    c.members.forEach((k, x) => {
      expect(seen.has(k)).toBe(false);
      seen.add(k);
      expect(c.neurons[x]).toEqual([r.neurons[k].layer, r.neurons[k].index]);
    });
    expect(c.persistence).toBeGreaterThan(r.clustering.persistenceThreshold!);
  }
  expect(r.filter.decisions).toHaveLength(r.clusters.length);
  for (const d of r.filter.decisions) expect(d.passed).toBe(d.drop !== null && d.drop < r.settings.filter.thresholdLow);
  expect(r.bdcs).toEqual(r.filter.passing.map((k) => r.clusters[k].neurons));
  expect(r.verdict.dkn).toBe(r.filter.passing.length >= 2 && r.jointDrop! >= r.settings.filter.jointDropMin);
  if (r.filter.passing.length >= 2) {
    expect(r.analysis!.subsets).toHaveLength(2 ** r.filter.passing.length - 2);
    expect(r.analysis!.all).toBe(r.jointDrop);
  } else expect(r.analysis).toBeNull();
  if (r.bdcs.length && r.controls) expect(r.controls.controls).toHaveLength(r.bdcs.length + (r.bdcs.length > 1 ? 1 : 0));
  expect(r.p0).toBeGreaterThan(0);
  expect(r.promptsUsed).toBe(r.p0PerPrompt.length);
}

describe('findDegenerateNeurons on a tiny random checkpoint', () => {
  let fixture: Fixture;
  const prompts = [[4, 8, 15, 16], [5, 9, 15], [7, 8, 15, 3, 2]];
  const targetIds = [23, 42];
  beforeAll(() => {
    fixture = randomFixture({ config: smallConfig({ nLayer: 4 }), seed: 41, std: 0.4 });
    // The attribution keeps transposed block matrices for the model's lifetime (not a leak).
    cacheTransposesForGradients(fixture.weights);
  });
  afterAll(() => disposeWeights(fixture.weights));

  it('project preset with several prompts: attribution, refining, clustering, filter; no tensor leaks', async () => {
    const before = tensorCount();
    const stages: string[] = [];
    const r = await findDegenerateNeurons(fixture.weights, { promptIds: prompts, targetIds }, { steps: 3 }, { onProgress: (p) => stages.push(p.stage) });
    expect(tensorCount()).toBe(before);
    checkRecord(r);
    expect(r.settings.preset).toBe('project');
    expect(r.promptsUsed).toBe(3);
    expect(r.neuronSource).toBe('attribution');
    for (const neuron of r.neurons) expect(neuron.count).toBeGreaterThanOrEqual(3);
    expect(stages).toContain('functional filter');
    expect(stages.at(-1)).toBe('done');
  });

  it('given neurons with every baseline; drops agree with the patching utilities', async () => {
    const neurons: Neuron[] = [];
    for (let l = 0; l < 4; l++) for (const i of [0, 1, 2, 3, 4]) neurons.push([l, (7 * i + 5 * l + 3) % 64]);
    const before = tensorCount();
    const options = { filter: { thresholdLow: 1, jointDropMin: 0 }, baselines: ['pairwise', 'hierarchical', 'dbscan', 'kmeans'] as const, controls: { repeats: 2 } };
    const r = await findDegenerateNeurons(fixture.weights, { promptIds: prompts[0], targetIds, neurons }, { ...options, baselines: [...options.baselines] });
    expect(tensorCount()).toBe(before);
    checkRecord(r);
    expect(r.neuronSource).toBe('given');
    expect(r.neurons.every((n) => n.score === null)).toBe(true);
    // thresholdLow = 1 lets every cluster pass, so the analysis and the controls run
    expect(r.clusters.length).toBeGreaterThanOrEqual(2);
    expect(r.filter.passing).toHaveLength(r.clusters.length);
    expect(r.analysis).not.toBeNull();
    expect(r.verdict.reason).toBe(r.jointDrop! >= 0 ? 'degenerate' : 'joint-drop-below-min');
    expect(r.baselines.map((b) => b.name)).toEqual(['pairwise', 'hierarchical', 'dbscan', 'kmeans']);
    expect(r.baselines[0].pairwise!.singles).toHaveLength(15);
    // the joint drop is the patching utilities' relative drop for the union of the passing clusters
    const item = { promptIds: prompts[0], targetIds };
    const [clean] = await answerProbsWithNeurons(fixture.weights, [item], [], 1);
    const [after] = await answerProbsWithNeurons(fixture.weights, [item], r.bdcs.flat(), 0);
    expect(r.jointDrop).toBeCloseTo(relativeDrop(clean.prob, after.prob), 10);
    const summary = summarizeDknResults([r]);
    expect(summary.withDkn).toBe(r.verdict.dkn ? 1 : 0);
    expect(Object.values(summary.bdcSizes).reduce((a, b) => a + b, 0)).toBe(r.verdict.dkn ? r.bdcs.length : 0);
    expect(summary.meanAllDrop).toBe(r.analysis!.all);
  });

  it('dkn-code preset: pre site, AMIG path, strict threshold, first prompt only', async () => {
    const r = await findDegenerateNeurons(fixture.weights, { promptIds: prompts, targetIds }, { preset: 'dkn-code', steps: 2 });
    checkRecord(r);
    expect([r.settings.site, r.settings.rule, r.settings.path, r.settings.pathRule, r.promptsUsed, r.prompts]).toEqual(['pre', 'left', 'amig', 'dkn-code', 1, 3]);
    // the knowledge neurons are the AMIG attribution's coarse set
    const attribution = await attribute(fixture.weights, prompts[0], targetIds, { steps: 2, rule: 'left', site: 'pre', baseline: 'amig' });
    expect(r.neurons.map((n) => [n.layer, n.index])).toEqual(expect.arrayContaining(coarseNeurons(attribution, 0.2, true)));
    expect(r.neurons).toHaveLength(coarseNeurons(attribution, 0.2, true).length);
    const scores = r.neurons.map((n) => n.score!);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    if (scores.length) expect(Math.min(...scores)).toBeGreaterThan(0.2 * scores[0]);
  });

  it('cancels cleanly', async () => {
    const before = tensorCount();
    const controller = new AbortController();
    const run = findDegenerateNeurons(fixture.weights, { promptIds: prompts, targetIds }, { steps: 3 }, { signal: controller.signal, onProgress: () => controller.abort() });
    await expect(run).rejects.toThrow(/cancelled/);
    expect(tensorCount()).toBe(before);
    await expect(findDegenerateNeurons(fixture.weights, { promptIds: [], targetIds }, {})).rejects.toThrow(/no prompts|empty prompt/);
  });
});

const exec = promisify(execFile);

async function factlab(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('node', ['bin/factlab.js', ...args], { timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('factlab dkn', () => {
  let folder: string;
  let factsCsv: string;
  beforeAll(() => {
    folder = writeModelFolder({ config: tinyGpt2Config({ nLayer: 3 }) });
    factsCsv = join(folder, 'facts.csv');
    writeFileSync(
      factsCsv,
      'subject,relation,object,prompts\n' +
        'France,capital_city,Paris,"The capital of France is | France\'s capital is | The capital city of France is"\n' +
        'Japan,capital_city,Tokyo,"The capital of Japan is"\n',
    );
  });

  it('prints per-fact records and a fact-set summary as JSON, and a readable report', async () => {
    const result = await factlab('dkn', '--model', folder, '--facts', factsCsv, '--steps', '2', '--baselines', 'dbscan', '--json');
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out.facts.map((f: { id: string }) => f.id)).toEqual(['capital_city/france', 'capital_city/japan']);
    expect(out.settings).toEqual(expect.objectContaining({ preset: 'project', steps: 2, path: 'zero', site: 'post' }));
    for (const f of out.facts) checkRecord(f.result);
    expect(out.facts[0].result.promptsUsed).toBe(3);
    expect(out.summary).toEqual(expect.objectContaining({ facts: 2, withDkn: expect.any(Number), fraction: expect.any(Number), bdcSizes: expect.any(Object), layerSpans: expect.any(Object) }));
    const text = await factlab('dkn', '--model', folder, '--facts', factsCsv, '--ids', 'capital_city/japan', '--steps', '2', '--preset', 'dkn-code');
    expect(text.code).toBe(0);
    const upper = JSON.parse((await factlab('dkn', '--model', folder, '--facts', factsCsv, '--ids', 'capital_city/japan', '--steps', '2', '--layers', '1-2', '--no-controls', '--json')).stdout);
    expect(upper.settings.layers).toEqual([1, 2]);
    const amig = JSON.parse((await factlab('dkn', '--model', folder, '--facts', factsCsv, '--ids', 'capital_city/japan', '--steps', '2', '--path', 'amig', '--no-controls', '--json')).stdout);
    expect(amig.settings).toEqual(expect.objectContaining({ preset: 'project', path: 'amig' }));
    expect(upper.facts[0].result.neurons.every((n: { layer: number }) => n.layer >= 1)).toBe(true);
    expect(text.stdout).toMatch(/capital_city\/japan: P0 = .*knowledge neurons/);
    expect(text.stdout).toMatch(/distances: \d+ pairs, \d+ finite/);
    expect(text.stdout).toMatch(/verdict: /);
    expect(text.stdout).toMatch(/1 facts: \d+ with degenerate knowledge neurons/);
  });

  it('one-line errors for bad options', async () => {
    for (const [args, pattern] of [
      [['--preset', 'nope'], /--preset must be one of project, dkn-code/],
      [['--baselines', 'magic'], /--baselines takes pairwise/],
      [['--joint-drop-min', '3'], /--joint-drop-min must be a number from 0 to 1/],
      [['--layers', '1-5'], /--layers 1-5 is outside 0-2/],
      [['--layers', 'top'], /--layers must be A-B or A/],
      [['--path', 'mean'], /--path must be one of zero, amig/],
    ] as const) {
      const r = await factlab('dkn', '--model', folder, '--facts', factsCsv, ...args);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n').filter((l) => !l.startsWith('npm warn'))).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    }
  });
});
