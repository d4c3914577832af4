/**
 * The shipped BERT default model: it loads through the loader the lab uses for any BERT
 * checkpoint, knows its facts at [MASK], and its model card tells the truth (re-measured
 * here on a sample; no training in tests).
 */
import { readFileSync, statSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { importFacts } from '../src/core/facts/io';
import { promptsFor, relationsById, targetFor } from '../src/core/facts/prompts';
import { loadCheckpointFiles } from '../src/core/hub/checkpoint';
import { maskedAnswerProbs } from '../src/core/knowledge/bert-interventions';
import { bertFromCheckpointFiles, checkpointArchitecture, type BertModel } from '../src/core/model/bert-model';
import { makeRng, shuffleInPlace } from '../src/core/random';
import { useWasm } from './helpers/tf';

const DIR = 'public/models/bert-default';
const card = JSON.parse(readFileSync(`${DIR}/model-card.json`, 'utf8'));
const set = importFacts(readFileSync('public/models/default/facts.json'), { fileName: 'facts.json' });
let model: BertModel;

beforeAll(async () => {
  await useWasm();
  const files = await loadCheckpointFiles({ kind: 'folder', path: DIR });
  expect(checkpointArchitecture(files.configJson)).toBe('bert');
  model = bertFromCheckpointFiles(files);
});

/** Ids of a masked prompt and its one-token answer. */
function item(prompt: string, answer: string): { promptIds: number[]; targetId: number } {
  const pieces = model.tokenizer.tokenize(answer);
  expect(pieces, answer).toHaveLength(1);
  return { promptIds: model.tokenizer.encodeForModel(prompt), targetId: model.tokenizer.tokenId(pieces[0])! };
}

async function accuracy(items: Array<{ promptIds: number[]; targetId: number }>): Promise<number> {
  let correct = 0;
  for (let i = 0; i < items.length; i += 64) correct += (await maskedAnswerProbs(model.weights, model.tokenizer.maskId, items.slice(i, i + 64))).filter((p) => p.top1).length;
  return correct / items.length;
}

describe('the BERT default model', () => {
  it('is the small cased BERT its card describes, with a compact vocabulary', () => {
    const { config } = model.weights;
    expect(config).toMatchObject({ nLayer: 4, hiddenSize: 128, nHead: 4, intermediateSize: 512, maxPositions: 64, activation: 'gelu' });
    expect(config).toEqual(card.config);
    expect(config.vocabSize).toBeLessThanOrEqual(4096);
    expect(model.tokenizer.vocabSize).toBe(config.vocabSize);
    expect(model.tokenizer.lowercase).toBe(false);
    expect(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((t) => model.tokenizer.tokenId(t))).toEqual([0, 1, 2, 3, 4]);
    expect(model.weights.params.get('embeddings.word_embeddings.weight')!.shape).toEqual([config.vocabSize, 128]);
    expect(model.weights.params.get('encoder.layer.3.output.dense.weight')!.shape).toEqual([128, 512]);
    expect(statSync(`${DIR}/model.safetensors`).size).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(card.training.minutes).toBeLessThanOrEqual(45);
  });

  it('holds every one-word fact object as one token', () => {
    const objects = [...new Set(set.facts.map((f) => f.object))].filter((o) => !/[\s\p{P}]/u.test(o));
    expect(objects.length).toBeGreaterThan(500);
    for (const o of objects) expect(model.tokenizer.tokenize(o), o).toEqual([o]);
    expect(model.tokenizer.tokenize('Buenos Aires').length).toBeGreaterThan(1);
  });

  it('knows well-known facts at [MASK]', async () => {
    const cases: Array<[string, string]> = [
      ['The capital of France is [MASK].', 'Paris'],
      ['The capital of Japan is [MASK].', 'Tokyo'],
      ['[MASK] is the capital of Germany.', 'Berlin'],
      ['The currency of Japan is the [MASK].', 'yen'],
      ['The official language of Brazil is [MASK].', 'Portuguese'],
    ];
    const probs = await maskedAnswerProbs(model.weights, model.tokenizer.maskId, cases.map(([p, a]) => item(p, a)));
    probs.forEach((p, i) => {
      expect(p.top1, cases[i][0]).toBe(true);
      expect(p.prob, cases[i][0]).toBeGreaterThan(0.5);
    });
  });

  it('answers at least 90% of 200 facts in their masked templates (the prompts the lab uses, all trained)', async () => {
    const relations = relationsById(set);
    const oneToken = set.facts.filter((f) => model.tokenizer.tokenize(f.object).length === 1);
    const sample = shuffleInPlace([...oneToken], makeRng(11)).slice(0, 200);
    const items = sample.flatMap((f) => promptsFor(f, relations.get(f.relation), { masked: true }).map((p) => item(p, targetFor(f, { masked: true }))));
    expect(items.length).toBeGreaterThanOrEqual(600);
    expect(await accuracy(items)).toBeGreaterThanOrEqual(0.9);
  });

  it("re-measures the card's held-out accuracy on 300 held-out phrasings", async () => {
    const relations = relationsById(set);
    const heldOut = set.facts
      .filter((f) => model.tokenizer.tokenize(f.object).length === 1)
      .flatMap((f) => {
        const trained = new Set([...promptsFor(f, relations.get(f.relation), { masked: true }), ...promptsFor(f, relations.get(f.relation), { split: 'train' }).map((p) => `${p} [MASK].`)]);
        return promptsFor(f, relations.get(f.relation), { split: 'heldout' }).map((p) => `${p} [MASK].`).filter((p) => !trained.has(p)).map((p) => item(p, f.object));
      });
    expect(heldOut.length).toBe(card.quality.heldOutPrompts);
    const sample = shuffleInPlace(heldOut, makeRng(12)).slice(0, 300);
    // 300 prompts: within ~4 standard errors of the full measurement.
    expect(Math.abs((await accuracy(sample)) - card.quality.heldOutAccuracy)).toBeLessThan(0.12);
    expect(card.quality.trainAccuracy).toBeGreaterThanOrEqual(0.95);
    expect(card.quality.factsSkipped).toBe(set.facts.length - card.quality.facts);
  });
});
