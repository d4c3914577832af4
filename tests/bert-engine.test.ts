import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BertEngine, loadEngine, type Engine } from '../src/core/engine';
import { REFINE_PRESETS } from '../src/core/knowledge/refine';
import { evaluateInterventions } from '../src/core/knowledge/evaluate';
import { eraseRelationExperiment, updateFactExperiment } from '../src/core/knowledge/edit-eval';
import type { FactSet } from '../src/core/facts/types';
import { makeRandomBertCheckpoint, smallBertConfig } from '../scripts/lib/random-bert-checkpoint';
import { tensorCount, useWasm } from './helpers/tf';

let engine: BertEngine;
let dir: string;

beforeAll(async () => {
  await useWasm();
  const { configJson, safetensors, vocabTxt } = makeRandomBertCheckpoint({ config: smallBertConfig(), seed: 5, std: 0.3 });
  dir = mkdtempSync(join(tmpdir(), 'factlab-bert-engine-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configJson));
  writeFileSync(join(dir, 'model.safetensors'), safetensors);
  writeFileSync(join(dir, 'vocab.txt'), vocabTxt);
  const loaded: Engine = await loadEngine({ kind: 'folder', path: dir });
  if (loaded.arch !== 'bert') throw new Error('expected the BERT engine');
  engine = loaded;
});
afterAll(() => engine?.dispose());

const PROMPT = 'paris is the capital of [MASK].';

describe('the BERT engine', () => {
  it('is chosen from config.json and reports a masked model with its shape', () => {
    expect(engine.info).toMatchObject({ arch: 'bert', objective: 'masked', shape: { nLayer: 2, nInner: 64, nEmbd: 16, nHead: 2, nPositions: 32, vocabSize: 120 } });
  });

  it('predicts at [MASK], and the target probability is the one in the top list', async () => {
    const result = await engine.predict({ prompt: PROMPT, target: 'france', top: 120 });
    const listed = result.top.find((t) => t.text === 'france')!;
    expect(result.target!.prob).toBeCloseTo(listed.prob, 9);
    expect(result.top.reduce((a, t) => a + t.prob, 0)).toBeCloseTo(1, 5);
    expect(result.tokens[0].text).toBe('[CLS]');
  });

  it('says clearly what is wrong with a prompt or an answer', async () => {
    await expect(engine.predict({ prompt: 'paris is the capital of france.' })).rejects.toMatchObject({ code: 'no-mask' });
    await expect(engine.predict({ prompt: '[MASK] is the capital of [MASK].' })).rejects.toMatchObject({ code: 'several-masks' });
    await expect(engine.predict({ prompt: PROMPT, target: 'parisfrance' })).rejects.toMatchObject({ code: 'multi-token-target' });
    await expect(engine.predict({ prompt: '   ' })).rejects.toMatchObject({ code: 'empty-prompt' });
    await expect(engine.degeneracy()).rejects.toMatchObject({ code: 'unsupported-for-bert' });
    expect(engine.subnet).toBeUndefined();
  });

  it('attributes at [MASK] with the completeness check, and finds a fact\'s neurons across masked paraphrases', async () => {
    const { promptIds, targetIds } = engine.encodeFact(PROMPT, 'france');
    const result = await engine.attribute(promptIds, targetIds, { steps: 8 });
    expect(result.layers).toHaveLength(2);
    expect(result.settings.path).toBe('full');
    // Parity with the official algorithm is tested in bert-knowledge.test.ts; here: the engine's answer is the attribution's.
    for (const layer of result.layers) expect(layer.relError).toBeCloseTo(Math.abs(layer.sum - layer.delta) / Math.abs(layer.delta), 9);
    expect(result.pFull).toBeCloseTo((await engine.predict({ prompt: PROMPT, target: 'france' })).target!.prob, 6);
    expect(result.tokenProbs).toEqual([result.pFull]);
    await expect(engine.attribute(promptIds, targetIds, { path: 'fast' })).rejects.toMatchObject({ code: 'bad-option' });
    const found = await engine.factNeurons({ prompts: [PROMPT, 'the capital of [MASK] is paris.', '[MASK] has paris as its capital.'], target: 'france', attribution: { steps: 8 } });
    expect(found.perPrompt).toHaveLength(3);
    const activation = await engine.factNeurons({ prompts: [PROMPT, 'the capital of [MASK] is paris.', '[MASK] has paris as its capital.'], target: 'france', method: 'activation' });
    expect(activation.method).toBe('activation');
    expect(activation.refine.t).toBe(0.5);
  });

  it('suppresses at [MASK] and edits value slots reversibly, freeing every tensor', async () => {
    const before = tensorCount();
    const items = [{ prompt: PROMPT, target: 'france' }];
    const [{ before: clean, after }] = await engine.intervene({ items, neurons: [[0, 1], [1, 7]], scale: 0 });
    expect(after.prob).not.toBeCloseTo(clean.prob, 8);
    await engine.eraseNeurons({ neurons: [[1, 7]], replacement: 'unk', label: 'test' });
    const [{ before: erased }] = await engine.intervene({ items, neurons: [], scale: 1 });
    expect(erased.prob).not.toBeCloseTo(clean.prob, 8);
    const info = await engine.neuronInfo([1, 7], 3);
    expect(info.promotes).toHaveLength(3);
    await engine.editFact({ prompt: PROMPT, target: 'france', newTarget: 'italy', neurons: [[0, 1]] });
    expect(engine.listEdits()).toHaveLength(2);
    await expect(engine.eraseNeurons({ neurons: [[1, 7]], replacement: 'mean-embedding' })).rejects.toMatchObject({ code: 'bad-option' });
    await engine.revertEdit();
    const [{ before: restored }] = await engine.intervene({ items, neurons: [], scale: 1 });
    expect(restored.prob).toBe(clean.prob);
    expect(tensorCount()).toBe(before);
  });
});

describe('the paper\'s experiments on a masked model', () => {
  const set: FactSet = {
    name: 'tiny',
    relations: [
      { id: 'capital_of', name: 'capital', templates: ['The capital of {subject} is'], maskedTemplates: ['the capital of {subject} is [MASK].', '[MASK] is the capital of {subject}.', 'in {subject}, the capital city is [MASK].'], heldOutTemplates: [] },
      { id: 'country_of', name: 'country', templates: ['{subject} is in'], maskedTemplates: ['{subject} is in [MASK].', '{subject} is a city of [MASK].', 'the city of {subject} is in [MASK].'], heldOutTemplates: [] },
    ],
    facts: [
      { id: 'capital_of/france', relation: 'capital_of', subject: 'france', object: 'paris' },
      { id: 'capital_of/italy', relation: 'capital_of', subject: 'italy', object: 'rome' },
      { id: 'capital_of/atlantis', relation: 'capital_of', subject: 'atlantis', object: 'poseidonia' },
      { id: 'country_of/berlin', relation: 'country_of', subject: 'berlin', object: 'germany' },
      { id: 'country_of/london', relation: 'country_of', subject: 'london', object: 'england' },
    ],
  } as unknown as FactSet;

  it('evaluates suppress/amplify, and records facts with answers of several word pieces as skipped', async () => {
    const result = await evaluateInterventions(engine.factModel, set, set.facts, { method: 'ig', attribution: { steps: 4 }, refine: REFINE_PRESETS.project, seed: 1 });
    expect(result.facts).toBe(4);
    expect(result.skipped).toEqual([expect.objectContaining({ factId: 'capital_of/atlantis' })]);
    expect(result.skipped[0].reason).toMatch(/word pieces/);
    expect(result.layerShare).toHaveLength(2);
  });

  it('runs the update and erase experiments through the value slots (columns of output.dense)', async () => {
    const before = tensorCount();
    const update = await updateFactExperiment(engine.factModel, set, set.facts[0], 'rome', [[0, 1], [1, 7]], [[[0, 1], [1, 7]], [[1, 2]]], 3);
    expect(update.to.token).toBe(engine.tokenizer.tokenId('rome'));
    const erase = await eraseRelationExperiment(engine.factModel, set, 'capital_of', [[[0, 1], [1, 7]], [[1, 7]]], { replacement: 'unk' });
    expect(erase.neurons[0]).toEqual({ neuron: [1, 7], count: 2 });
    expect(erase.erased.before.perplexity).not.toBe(erase.erased.after.perplexity);
    expect(tensorCount()).toBe(before);
  });
});
