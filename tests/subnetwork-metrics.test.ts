import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forward } from '../src/core/model/gpt2';
import { disposeWeights, type Gpt2Weights } from '../src/core/model/weights';
import { makeRng } from '../src/core/random';
import { binaryFromState, binarySparsity, countOnes, type BinaryMask } from '../src/core/subnetwork/binary';
import { BatchCycler, kgItemsFromFacts, lmBlocks, type KgItem } from '../src/core/subnetwork/data';
import type { Tokenizer } from '../src/core/tokenizers/types';
import { createMaskState, disposeMaskState, maskEntries } from '../src/core/subnetwork/mask';
import { combineMasks, evaluateSubnetwork, kgScores, lmScores, randomBaseline, sparsityPercent } from '../src/core/subnetwork/metrics';
import { smallConfig } from '../scripts/lib/random-checkpoint';
import { randomFixture, tensorCount, useWasm } from './helpers/tf';

beforeAll(useWasm);

const config = smallConfig({ nLayer: 2, vocabSize: 50, eosTokenId: 49 });

function maskFrom(fn: (name: string, i: number) => number): BinaryMask {
  const entries = maskEntries(config, [1]);
  return { dims: config, layers: [1], entries, bits: new Map(entries.map((e) => [e.name, Uint8Array.from({ length: e.size }, (_, i) => fn(e.name, i))])) };
}

describe('random baseline and combining', () => {
  it('removes the same number of weights in every module, placed at random (seeded)', () => {
    const rng = makeRng(3);
    const mask = maskFrom((name) => (rng() < (name.includes('c_fc') ? 0.3 : 0.05) ? 1 : 0));
    const random = randomBaseline(mask, 1318);
    for (const e of mask.entries) expect(countOnes(random.bits.get(e.name)!)).toBe(countOnes(mask.bits.get(e.name)!));
    expect(binarySparsity(random)).toEqual(binarySparsity(mask));
    expect(random.bits.get('h.1.mlp.c_fc.weight')).not.toEqual(mask.bits.get('h.1.mlp.c_fc.weight'));
    expect(randomBaseline(mask, 1318).bits).toEqual(random.bits);
    expect(randomBaseline(mask, 84).bits.get('h.1.mlp.c_fc.weight')).not.toEqual(random.bits.get('h.1.mlp.c_fc.weight'));
    expect(sparsityPercent(binarySparsity(mask))).toBeCloseTo(100 * binarySparsity(mask).sparsity, 12);
  });

  it('combines seeds by union, intersection and majority (2 of 3)', () => {
    const a = maskFrom((_, i) => (i % 2 === 0 ? 1 : 0));
    const b = maskFrom((_, i) => (i % 3 === 0 ? 1 : 0));
    const c = maskFrom((_, i) => (i % 5 === 0 ? 1 : 0));
    const name = 'h.1.attn.c_proj.weight';
    const pick = (m: BinaryMask) => Array.from(m.bits.get(name)!.slice(0, 12));
    expect(pick(combineMasks([a, b, c], 'union'))).toEqual([1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0]);
    expect(pick(combineMasks([a, b, c], 'intersection'))).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(pick(combineMasks([a, b, c], 'majority'))).toEqual([1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0]);
    const other = { ...a, entries: maskEntries(config, [0]) };
    expect(() => combineMasks([a, other], 'union')).toThrow(/do not cover the same matrices/);
  });
});

describe('data helpers', () => {
  it('turns facts into KG items: one prompt per fact by default, prompt and target encoded apart', () => {
    const words = new Map<string, number>();
    const tokenizer = { vocabSize: 100, encode: (t: string) => t.split(/(?= )/).map((w) => words.get(w) ?? (words.set(w, words.size), words.size - 1)) } as unknown as Tokenizer;
    const set = { relations: [{ id: 'capital_of', name: 'capital', description: '', templates: ['The capital of {subject} is', '{subject} has the capital'], maskedTemplates: [], heldOutTemplates: [] }] };
    const facts = [{ id: 'capital_of/france', relation: 'capital_of', subject: 'France', object: 'Paris' }];
    const first = kgItemsFromFacts(tokenizer, set, facts);
    expect(first).toEqual([{ id: 'capital_of/france', promptIds: tokenizer.encode('The capital of France is'), targetIds: tokenizer.encode(' Paris') }]);
    expect(kgItemsFromFacts(tokenizer, set, facts, { prompts: 'all' })).toHaveLength(2);
  });

  it('cuts LM blocks and cycles shuffled batches', () => {
    expect(lmBlocks([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([[1, 2, 3], [4, 5, 6]]);
    const cycler = new BatchCycler([1, 2, 3, 4, 5], 2, makeRng(1));
    const seen = [cycler.next(), cycler.next(), cycler.next()];
    expect(seen.map((b) => b.length)).toEqual([2, 2, 1]);
    expect(seen.flat().sort()).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('perplexities and ΔPPL', () => {
  let weights: Gpt2Weights;
  const items: KgItem[] = [
    { promptIds: [3, 4, 5], targetIds: [7] },
    { promptIds: [8, 9], targetIds: [10, 11] },
    { promptIds: [12, 13, 14, 15], targetIds: [16] },
  ];
  beforeAll(() => {
    weights = randomFixture({ config, seed: 8, std: 0.3 }).weights;
  });
  afterAll(() => disposeWeights(weights));

  function logProbAt(tokens: number[], position: number, gold: number): number {
    const logits = forward(weights, tf.tensor2d([tokens], [1, tokens.length], 'int32'));
    const lp = tf.logSoftmax(logits).dataSync();
    logits.dispose();
    return lp[position * config.vocabSize + gold];
  }

  it('KG PPL is the mean over batches of exp(mean CE of the labelled tokens)', async () => {
    const ce = items.map((it) => {
      const seq = [...it.promptIds, ...it.targetIds];
      return -logProbAt(seq, seq.length - 2, seq[seq.length - 1]);
    });
    const one = await kgScores(weights, items);
    expect(one.n).toBe(3);
    expect(one.ppl).toBeCloseTo(Math.exp(ce.reduce((a, b) => a + b) / 3), 4);
    expect(one.meanProb).toBeCloseTo(ce.map((c) => Math.exp(-c)).reduce((a, b) => a + b) / 3, 5);
    const batched = await kgScores(weights, items, { batchSize: 2 });
    expect(batched.ppl).toBeCloseTo((Math.exp((ce[0] + ce[1]) / 2) + Math.exp(ce[2])) / 2, 4);
    const all = await kgScores(weights, items, { scoreAllTailTokens: true });
    expect(all.n).toBe(4);
  });

  it("a fact's top-1 (answerTop1) needs every answer token to be the argmax, whichever tokens the metric labels", async () => {
    const isArgmax = (tokens: number[], position: number, gold: number) => {
      const logits = forward(weights, tf.tensor2d([tokens], [1, tokens.length], 'int32'));
      const row = Array.from(logits.dataSync().slice(position * config.vocabSize, (position + 1) * config.vocabSize));
      logits.dispose();
      return row.every((v) => v <= row[gold]);
    };
    // Items whose answers are the model's own greedy continuations, and the same with a wrong first or last token.
    const greedy = (prompt: number[], length: number) => {
      const seq = [...prompt];
      for (let j = 0; j < length; j++) {
        const logits = forward(weights, tf.tensor2d([seq], [1, seq.length], 'int32'));
        const row = Array.from(logits.dataSync().slice((seq.length - 1) * config.vocabSize));
        logits.dispose();
        seq.push(row.indexOf(Math.max(...row)));
      }
      return seq.slice(prompt.length);
    };
    const known = greedy([3, 4, 5], 3);
    const other = (t: number) => (t + 1) % config.vocabSize;
    const cases: KgItem[] = [
      { promptIds: [3, 4, 5], targetIds: known },
      { promptIds: [3, 4, 5], targetIds: [other(known[0]), known[1], known[2]] },
      { promptIds: [3, 4, 5], targetIds: [known[0], known[1], other(known[2])] },
    ];
    const expected = cases.map((it) => it.targetIds.every((t, j) => isArgmax([...it.promptIds, ...it.targetIds], it.promptIds.length + j - 1, t)));
    expect(expected[0]).toBe(true);
    const last = await kgScores(weights, cases);
    const all = await kgScores(weights, cases, { scoreAllTailTokens: true });
    expect(last.answerTop1).toBeCloseTo(expected.filter(Boolean).length / 3, 6);
    expect(all.answerTop1).toBe(last.answerTop1);
    // only the last token labelled: the wrong first token goes unseen by top1, not by answerTop1
    expect(last.top1).toBeCloseTo(cases.map((it) => +isArgmax([...it.promptIds, ...it.targetIds], it.promptIds.length + 1, it.targetIds[2])).reduce((a, b) => a + b) / 3, 6);
  });

  it('LM PPL scores every next token of each block', async () => {
    const blocks = [[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]];
    let total = 0;
    for (const b of blocks) for (let t = 0; t + 1 < b.length; t++) total -= logProbAt(b, t, b[t + 1]);
    const score = await lmScores(weights, blocks);
    expect(score.meanCe).toBeCloseTo(total / 10, 5);
    expect(score.ppl).toBeCloseTo(Math.exp(total / 10), 4);
  });

  it('an empty subnetwork changes nothing: ΔPPL = 0 for the remaining model and the random baseline', async () => {
    const state = createMaskState(config);
    const mask = await binaryFromState(state);
    const before = tensorCount();
    const evaluation = await evaluateSubnetwork(weights, mask, { target: items.slice(0, 1), controlKg: items.slice(1), controlLm: [[1, 2, 3, 4]] }, { subnetwork: true });
    expect(tensorCount()).toBe(before);
    expect(evaluation.sparsity.sparsity).toBe(1);
    expect(evaluation.delta).toEqual({ target: 0, controlKg: 0, controlLm: 0 });
    expect(evaluation.random!.delta).toEqual({ target: 0, controlKg: 0, controlLm: 0 });
    expect(evaluation.subnetwork!.target.ppl).toBeGreaterThan(0);
    disposeMaskState(state);
  });

  it('removing weights changes the remaining model', async () => {
    const rng = makeRng(2);
    const mask = maskFrom(() => (rng() < 0.5 ? 1 : 0));
    const evaluation = await evaluateSubnetwork(weights, mask, { target: items, controlKg: items }, { randomSeed: null });
    expect(evaluation.random).toBeUndefined();
    expect(evaluation.delta.target).not.toBe(0);
    expect(evaluation.remaining.target.ppl).toBeCloseTo(evaluation.full.target.ppl + evaluation.delta.target, 9);
  });
});
