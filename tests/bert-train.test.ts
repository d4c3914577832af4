/**
 * The pieces of BERT default-model training: the WordPiece vocabulary builder, the masked
 * batches, the split of fact prompts, and gradients (checked against plain autodiff on the
 * cpu backend, which has the gather gradient wasm lacks).
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { promptsFor, relationsById } from '../src/core/facts/prompts';
import { bertForward } from '../src/core/model/bert';
import { isMultipliedWeight } from '../src/core/model/bert-weights';
import { makeRng, shuffleInPlace } from '../src/core/random';
import { WordPiece } from '../src/core/tokenizers/wordpiece';
import { loadFactSet } from '../scripts/lib/default-model-data';
import { maskedFactTexts, oneWordObjects, type BertTrainingData } from '../scripts/lib/bert-model-data';
import { computeGradients, initialBertParams, maskedBatchAt, type MaskedBatch } from '../scripts/lib/bert-train';
import { smallBertConfig } from '../scripts/lib/random-bert-checkpoint';
import { BERT_SPECIAL_TOKENS, buildWordPieceVocab } from '../scripts/lib/wordpiece-vocab';

const TEXT = [
  'The capital of France is Paris.',
  'The capital of Japan is Tokyo.',
  'Paris is the capital of France.',
  'A running river runs through the city; rivers run downhill.',
  'Unaffable runners were running, and the runner ran.',
  'São Tomé lies in Africa.',
];

describe('the WordPiece vocabulary builder', () => {
  const required = ['Tokyo', 'Ouagadougou', 'colón', 'yen'];
  const vocab = buildWordPieceVocab(TEXT, { vocabSize: 160, required });

  it('puts the specials first, then characters and their ## forms, and has exactly the requested size', () => {
    expect(vocab.slice(0, 5)).toEqual(BERT_SPECIAL_TOKENS);
    expect(vocab.slice(0, 5)).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    expect(vocab).toHaveLength(160);
    expect(new Set(vocab).size).toBe(vocab.length);
    for (const ch of new Set(TEXT.join('').replace(/\s/g, ''))) {
      expect(vocab).toContain(ch);
      expect(vocab).toContain(`##${ch}`);
    }
  });

  it('holds every required word whole, even one that never occurs in the text', () => {
    const wp = new WordPiece(vocab, { lowercase: false });
    for (const word of required) {
      expect(vocab).toContain(word);
      expect(wp.tokenize(word)).toEqual([word]);
    }
    expect(wp.tokenize('Ouagadougou is the capital of [MASK].')).toContain('[MASK]');
  });

  it('learns frequent words and pieces, and covers its text without [UNK]', () => {
    const wp = new WordPiece(vocab, { lowercase: false });
    expect(vocab).toContain('capital');
    expect(vocab.some((t) => t.startsWith('##') && t.length > 3)).toBe(true);
    for (const line of TEXT) expect(wp.tokenize(line)).not.toContain('[UNK]');
    expect(wp.decode(wp.encode('Unaffable runners'))).toBe('Unaffable runners');
  });

  it('is deterministic, whatever the order of the text', () => {
    expect(buildWordPieceVocab(TEXT, { vocabSize: 160, required })).toEqual(vocab);
    expect(buildWordPieceVocab(shuffleInPlace([...TEXT], makeRng(3)), { vocabSize: 160, required: [...required].reverse() }).slice(5)).toEqual(
      expect.arrayContaining(vocab.slice(5)),
    );
    expect(buildWordPieceVocab(shuffleInPlace([...TEXT], makeRng(3)), { vocabSize: 160, required })).toEqual(vocab);
  });

  it('refuses a required word of several words, and a size too small for its characters', () => {
    expect(() => buildWordPieceVocab(TEXT, { vocabSize: 160, required: ['Buenos Aires'] })).toThrow(/2 words/);
    expect(() => buildWordPieceVocab(TEXT, { vocabSize: 20 })).toThrow(/too small/);
  });
});

describe('fact prompts for the masked model', () => {
  const set = loadFactSet();
  const objects = oneWordObjects(set);
  const facts = maskedFactTexts((o) => objects.includes(o), set);

  it('skips exactly the facts whose object is several words, and keeps every masked template for training', () => {
    expect(facts.skipped.length).toBe(set.facts.filter((f) => !objects.includes(f.object)).length);
    expect(facts.skipped.map((f) => f.object)).toContain('Buenos Aires');
    const relations = relationsById(set);
    const kept = set.facts.filter((f) => objects.includes(f.object));
    expect(facts.train.filter((f) => f.lab).length).toBe(kept.reduce((n, f) => n + promptsFor(f, relations.get(f.relation), { masked: true }).length, 0));
    for (const f of facts.train) expect(f.prompt.split('[MASK]')).toHaveLength(2);
  });

  it("holds out, per fact, the GPT-2 model's held-out phrasings, never a training prompt of the same fact", () => {
    const relations = relationsById(set);
    const trainOf = new Map<string, Set<string>>();
    for (const f of facts.train) trainOf.set(f.factId, (trainOf.get(f.factId) ?? new Set()).add(f.prompt));
    for (const f of facts.heldOut) {
      expect(trainOf.get(f.factId)!.has(f.prompt)).toBe(false);
      const fact = set.facts.find((x) => x.id === f.factId)!;
      expect(promptsFor(fact, relations.get(fact.relation), { split: 'heldout' }).map((p) => `${p} [MASK].`)).toContain(f.prompt);
    }
    expect(facts.heldOut.length).toBeGreaterThan(facts.train.length / 6);
  });
});

function tinyData(): BertTrainingData {
  const facts = [0, 1, 2, 3, 4].map((i) => ({ factId: `f${i}`, relation: 'r', ids: [2, 10 + i, 20, 4, 3], maskPosition: 3, target: 30 + i, lab: true }));
  const text = Array.from({ length: 7 }, (_, i) => [2, ...Array.from({ length: 8 + i }, (_, t) => 5 + ((i * 13 + t * 7) % 100)), 3]);
  return { facts, heldOut: [], text, skipped: [] };
}

const batchOptions = { seed: 9, factsPerBatch: 3, textPerBatch: 4, masking: { maskRate: 0.15, maskTokenShare: 0.8, randomTokenShare: 0.1, answerWeight: 3 }, maskId: 4, padId: 0, firstOrdinaryId: 5, vocabSize: 120 };

describe('masked batches', () => {
  it('depend only on (seed, step)', () => {
    const data = tinyData();
    const a = maskedBatchAt(data, 17, batchOptions);
    maskedBatchAt(data, 3, batchOptions);
    expect(maskedBatchAt(data, 17, batchOptions)).toEqual(a);
    expect(maskedBatchAt(data, 18, batchOptions)).not.toEqual(a);
    expect(maskedBatchAt(data, 17, { ...batchOptions, seed: 10 })).not.toEqual(a);
  });

  it('score a fact only at its [MASK], against the object, with the answer weight', () => {
    const b = maskedBatchAt(tinyData(), 0, batchOptions);
    for (let r = 0; r < 3; r++) {
      expect(b.tokens[r][3]).toBe(4);
      expect(b.weights[r].filter((w) => w > 0)).toEqual([3]);
      expect(b.weights[r][3]).toBe(3);
      expect(b.targets[r][3]).toBeGreaterThanOrEqual(30);
    }
  });

  it('mask about 15% of text pieces, mostly as [MASK], never [CLS]/[SEP]/padding, and pad with [PAD]', () => {
    const data = tinyData();
    let chosen = 0, inner = 0, masked = 0, kept = 0;
    for (let step = 0; step < 300; step++) {
      const b = maskedBatchAt(data, step, batchOptions);
      for (let r = 3; r < b.tokens.length; r++) {
        const n = b.lengths[r];
        inner += n - 2;
        expect(b.weights[r][0]).toBe(0);
        expect(b.weights[r][n - 1]).toBe(0);
        expect(b.tokens[r].slice(n).every((id) => id === 0)).toBe(true);
        b.weights[r].forEach((w, t) => {
          if (!w) return;
          chosen++;
          if (b.tokens[r][t] === 4) masked++;
          else if (b.tokens[r][t] === b.targets[r][t]) kept++;
          expect(b.tokens[r][t]).not.toBe(0);
        });
      }
    }
    expect(chosen / inner).toBeGreaterThan(0.13);
    expect(chosen / inner).toBeLessThan(0.2);
    expect(masked / chosen).toBeGreaterThan(0.72);
    expect(masked / chosen).toBeLessThan(0.88);
    expect(kept / chosen).toBeGreaterThan(0.05);
  });
});

describe('masked-LM gradients', () => {
  // cpu, not wasm: the reference needs the gather gradient (this file runs in its own process).
  beforeAll(() => tf.setBackend('cpu'));

  it('equal plain autodiff through the whole model, embedding tables included', () => {
    const config = smallBertConfig({ vocabSize: 120, maxPositions: 16 });
    const params = initialBertParams(config, 4);
    // Move off the initialisation (zero biases, unit gains) so every parameter's gradient is exercised.
    const rng = makeRng(5);
    tf.tidy(() => params.forEach((p) => p.assign(tf.add(p, tf.mul(tf.randomNormal(p.shape, 0, 1, 'float32', Math.floor(rng() * 1e6)), 0.1)))));
    const batch: MaskedBatch = maskedBatchAt(tinyData(), 2, batchOptions);
    const ours = computeGradients(config, params, batch);

    const B = batch.tokens.length, T = batch.tokens[0].length;
    const names = [...params.keys()];
    const expected = tf.tidy(() => {
      const tokens = tf.tensor2d(batch.tokens, [B, T], 'int32');
      const attentionMask = tf.tensor2d(batch.lengths.map((n) => Array.from({ length: T }, (_, t) => +(t < n))), [B, T], 'int32');
      const targets = tf.oneHot(tf.tensor2d(batch.targets, [B, T], 'int32'), config.vocabSize);
      const weights = tf.tensor2d(batch.weights, [B, T]);
      const f = (...ps: tf.Tensor[]) => {
        const map = new Map(names.map((n, i) => [n, ps[i]]));
        const transposed = new Map(names.filter((n) => isMultipliedWeight(n, map.get(n)!.rank)).map((n) => [n, tf.transpose(map.get(n)!)]));
        const logits = bertForward({ config, params: map, transposed }, tokens, { attentionMask });
        return tf.neg(tf.sum(tf.mul(tf.sum(tf.mul(tf.logSoftmax(logits), targets), -1), weights))) as tf.Scalar;
      };
      const { value, grads } = tf.valueAndGrads(f)(names.map((n) => params.get(n)!));
      return { loss: value.dataSync()[0], grads: grads.map((g) => g.dataSync() as Float32Array) };
    });
    expect(ours.loss).toBeCloseTo(expected.loss, 3);
    expect(ours.weight).toBe(batch.weights.flat().reduce((a, b) => a + b, 0));
    names.forEach((n, i) => {
      const a = ours.values.get(n)!, b = expected.grads[i];
      const scale = Math.max(...b.map(Math.abs), 1e-6);
      const worst = a.reduce((m, v, k) => Math.max(m, Math.abs(v - b[k])), 0);
      expect(worst / scale, n).toBeLessThan(1e-3);
    });
    params.forEach((p) => p.dispose());
  });
});
