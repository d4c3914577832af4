import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { disposeOverrides, editOverrides, eraseEdit, filterByRelationFrequency, mostFrequentNeurons, updateFactEdit } from '../src/core/knowledge/edit';
import { answerProbs, answerProbsWithNeurons, relativeDrop } from '../src/core/knowledge/patching';
import { autoTuneP, coarseNeurons, parseNeuronList, REFINE_PRESETS, refineNeurons, type Neuron } from '../src/core/knowledge/refine';
import { forward } from '../src/core/model/gpt2';
import { disposeWeights } from '../src/core/model/weights';
import { smallConfig } from '../scripts/lib/random-checkpoint';
import { randomFixture, tensorCount, useWasm } from './helpers/tf';

beforeAll(useWasm);

const prompt = (rows: Record<number, number[]>) => ({ layers: Object.entries(rows).map(([layer, scores]) => ({ layer: Number(layer), scores })) });

describe('refining', () => {
  it('coarse threshold is inclusive (project) or strict (eleutherai), and empty when max ≤ 0', () => {
    const p = prompt({ 0: [1, 0.2, 0.1], 1: [0.3, -5, 0.2] });
    expect(coarseNeurons(p, 0.2, false)).toEqual([[0, 0], [0, 1], [1, 0], [1, 2]]);
    expect(coarseNeurons(p, 0.2, true)).toEqual([[0, 0], [1, 0]]);
    expect(coarseNeurons(prompt({ 0: [-1, 0] }), 0.2, false)).toEqual([]);
  });

  it('sharing threshold with the minimum of 3 prompts, sorted by count then total', () => {
    // neuron 0:0 in all 5 prompts, 0:1 in 3 (0.6 < 0.7 → out), 1:2 in 4 (≥ 3.5 → in)
    const prompts = [
      prompt({ 0: [1, 0.5, 0], 1: [0, 0, 0.5] }),
      prompt({ 0: [1, 0.5, 0], 1: [0, 0, 0.9] }),
      prompt({ 0: [1, 0.5, 0], 1: [0, 0, 0.5] }),
      prompt({ 0: [1, 0, 0], 1: [0, 0, 0.5] }),
      prompt({ 0: [1, 0, 0], 1: [0, 0, 0] }),
    ];
    const result = refineNeurons(prompts, REFINE_PRESETS.project);
    expect(result.required).toBeCloseTo(3.5);
    expect(result.neurons.map((n) => [n.layer, n.index, n.count])).toEqual([[0, 0, 5], [1, 2, 4]]);
    // with two prompts the minimum of 3 does not apply
    expect(refineNeurons(prompts.slice(0, 2), REFINE_PRESETS.project).neurons.length).toBe(3);
    // eleutherai: count > 0.5·5 = 2.5 and strict coarse threshold at 0.3
    expect(refineNeurons(prompts, REFINE_PRESETS.eleutherai).neurons.map((n) => `${n.layer}:${n.index}`)).toEqual(['0:0', '1:2', '0:1']);
  });

  it('auto-tuning moves p by 0.05 toward 2–5 neurons per fact, at most 6 evaluations', () => {
    const many = Array.from({ length: 3 }, () => Array.from({ length: 5 }, () => prompt({ 0: Array(10).fill(1) })));
    const tuned = autoTuneP(many, REFINE_PRESETS.project);
    expect(tuned.evaluations).toBe(6);
    expect(tuned.p).toBeCloseTo(0.95);
  });

  it('parses neuron lists and rejects bad ones', () => {
    expect(parseNeuronList('1:2, 0:5', 2, 8)).toEqual([[1, 2], [0, 5]]);
    expect(() => parseNeuronList('', 2, 8)).toThrow(/empty/);
    expect(() => parseNeuronList('3:1', 2, 8)).toThrow(/Layer 3 is out of range/);
    expect(() => parseNeuronList('1:8', 2, 8)).toThrow(/index 8 is out of range/);
    expect(() => parseNeuronList('1-2', 2, 8)).toThrow(/layer:index/);
  });
});

describe('interventions and edits', () => {
  const config = smallConfig({ nLayer: 2 });
  const item = { promptIds: [4, 8, 15, 16], targetIds: [23, 42] };

  it('suppressing every neuron of a layer equals the α = 0 point; scale 1 changes nothing', async () => {
    const fixture = randomFixture({ config, seed: 31, std: 0.4 });
    const all: Neuron[] = Array.from({ length: config.nInner }, (_, i) => [1, i]);
    const clean = (await answerProbs(fixture.weights, [item]))[0];
    expect((await answerProbsWithNeurons(fixture.weights, [item], all, 1))[0].prob).toBe(clean.prob);
    const suppressed = (await answerProbsWithNeurons(fixture.weights, [item], all, 0))[0];
    // by hand: zero the layer-1 activation at both answer positions
    const byHand = tf.tidy(() => {
      const tokens = tf.tensor2d([[4, 8, 15, 16, 23]], [1, 5], 'int32');
      const logits = forward(fixture.weights, tokens, { hooks: { 'blocks.1.mlp.hook_post': (x) => tf.concat([x.slice([0, 0, 0], [1, 3, -1]), tf.zeros([1, 2, config.nInner])], 1) } });
      const p = tf.softmax(logits).dataSync();
      return p[3 * config.vocabSize + 23] * p[4 * config.vocabSize + 42];
    });
    expect(Math.abs(suppressed.prob - byHand) / byHand).toBeLessThan(1e-5);
    expect(relativeDrop(clean.prob, suppressed.prob)).toBeCloseTo(1 - byHand / clean.prob, 5);
    disposeWeights(fixture.weights);
  });

  it('padded batches score each row as it scores alone', async () => {
    const fixture = randomFixture({ config, seed: 32, std: 0.4 });
    const other = { promptIds: [7, 9], targetIds: [11] };
    const alone = [(await answerProbs(fixture.weights, [item]))[0], (await answerProbs(fixture.weights, [other]))[0]];
    const together = await answerProbs(fixture.weights, [item, other]);
    expect(together[0].prob).toBeCloseTo(alone[0].prob, 7);
    expect(together[1].prob).toBeCloseTo(alone[1].prob, 7);
    const neurons: Neuron[] = [[0, 3], [1, 9]];
    const s1 = await answerProbsWithNeurons(fixture.weights, [item, other], neurons, 2);
    expect(s1[1].prob).toBeCloseTo((await answerProbsWithNeurons(fixture.weights, [other], neurons, 2))[0].prob, 7);
    disposeWeights(fixture.weights);
  });

  it('edit then revert is bit-identical, and the update follows the norm-scaled formula', async () => {
    const fixture = randomFixture({ config, seed: 33, std: 0.4 });
    const before = tensorCount();
    const clean = (await answerProbs(fixture.weights, [item]))[0];
    const edit = await updateFactEdit(fixture.weights, [[1, 3], [0, 7]], 23, 99);
    const slot = edit.slots[0];
    const wte = fixture.weights.params.get('wte.weight')!.arraySync() as number[][];
    const n = (v: ArrayLike<number>) => Math.hypot(...Array.from(v));
    const expected = Array.from(slot.original).map((v, k) => v - (n(slot.original) / n(wte[23])) * wte[23][k] + (n(slot.original) / n(wte[99])) * 8 * wte[99][k]);
    expected.forEach((v, k) => expect(slot.updated[k]).toBeCloseTo(v, 4));
    const overrides = editOverrides(fixture.weights, [edit, await eraseEdit(fixture.weights, [[1, 5]])]);
    const edited = (await answerProbs(fixture.weights, [item], { overrides }))[0];
    expect(edited.prob).not.toBe(clean.prob);
    disposeOverrides(overrides);
    expect((await answerProbs(fixture.weights, [item]))[0].prob).toBe(clean.prob);
    expect(tensorCount()).toBe(before);
    disposeWeights(fixture.weights);
  });

  it('relation frequency filter and top-k erase selection', () => {
    const sets: Neuron[][] = [[[1, 1], [2, 2]], [[1, 1]], [[1, 1], [3, 3]], ...Array.from({ length: 7 }, () => [[5, 5]] as Neuron[])];
    expect(filterByRelationFrequency([[1, 1], [2, 2]], sets)).toEqual([[2, 2]]);
    expect(mostFrequentNeurons(sets, 2)).toEqual([{ neuron: [5, 5], count: 7 }, { neuron: [1, 1], count: 3 }]);
    expect(mostFrequentNeurons(sets, 4).slice(2).map((x) => x.neuron)).toEqual([[2, 2], [3, 3]]);
  });
});
