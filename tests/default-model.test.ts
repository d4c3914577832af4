/**
 * The shipped default model: it loads through the same loader as real GPT-2, knows its facts,
 * and its model card tells the truth (re-measured here on a sample; no training in tests).
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR } from '../src/cli/common';
import { Gpt2Engine } from '../src/core/engine';
import { importFacts } from '../src/core/facts/io';
import { promptsFor, relationsById, targetFor } from '../src/core/facts/prompts';
import { parseModelSource } from '../src/core/hub/source';
import { answerProbs } from '../src/core/knowledge/patching';
import { makeRng, shuffleInPlace } from '../src/core/random';
import { useWasm } from './helpers/tf';

const card = JSON.parse(readFileSync(`${DEFAULT_MODEL_DIR}/model-card.json`, 'utf8'));
const set = importFacts(readFileSync(`${DEFAULT_MODEL_DIR}/facts.json`), { fileName: 'facts.json' });
let engine: Gpt2Engine;

beforeAll(async () => {
  await useWasm();
  engine = await Gpt2Engine.load(parseModelSource('default'), { defaultLocation: DEFAULT_MODEL_DIR });
});

describe('the default model', () => {
  it('is small and is what its card says', () => {
    const bytes = readFileSync(`${DEFAULT_MODEL_DIR}/model.safetensors`).byteLength;
    expect(bytes).toBeLessThanOrEqual(25 * 1024 * 1024);
    expect(engine.info.config).toEqual(card.config);
    expect(card.training.minutes).toBeLessThanOrEqual(45);
  });

  it('meets the quality bar on its card', () => {
    expect(card.quality.trainAccuracy).toBeGreaterThanOrEqual(0.9);
    expect(card.quality.heldOutAccuracy).toBeGreaterThanOrEqual(0.6);
    expect(card.quality.trainMeanProb).toBeGreaterThanOrEqual(0.5);
    expect(card.quality.textPerplexity).toBeGreaterThan(1);
  });

  it('knows well-known facts', async () => {
    for (const [prompt, target] of [['The capital of France is', ' Paris'], ['The capital of Japan is', ' Tokyo'], ['The currency of Japan is the', ' yen']]) {
      const result = await engine.predict({ prompt, target, top: 3 });
      expect(result.top[0].id, prompt).toBe(result.target!.ids[0]);
      expect(result.target!.prob, prompt).toBeGreaterThan(0.5);
    }
  });

  it("re-measures the card's accuracy on a sample of 200 training and 200 held-out prompts", async () => {
    const relations = relationsById(set);
    const rng = makeRng(7);
    const sample = (split: 'train' | 'heldout') =>
      shuffleInPlace(set.facts.flatMap((f) => promptsFor(f, relations.get(f.relation), { split }).map((p) => ({ prompt: p, fact: f }))), rng)
        .slice(0, 200)
        .map(({ prompt, fact }) => ({ promptIds: engine.tokenizer.encode(prompt), targetIds: engine.tokenizer.encode(targetFor(fact)) }));
    const accuracy = async (items: ReturnType<typeof sample>) => (await answerProbs(engine.weights, items)).filter((p) => p.top1).length / items.length;
    // A 200-prompt sample: within ~4 standard errors of the full measurement.
    expect(Math.abs((await accuracy(sample('train'))) - card.quality.trainAccuracy)).toBeLessThan(0.08);
    expect(Math.abs((await accuracy(sample('heldout'))) - card.quality.heldOutAccuracy)).toBeLessThan(0.14);
  });
});
