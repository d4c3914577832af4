/**
 * Fuzzing of the GPT-2 tokenizer loaders (vocab.json + merges.txt, tokenizer.json).
 * Seeds are small valid byte-level vocabularies (256 byte symbols + merges learned from
 * random words); mutations are structure-aware on the JSON and line-level on merges.txt.
 * A loaded tokenizer must encode any text without throwing and, while its files are
 * valid, decode(encode(text)) gives the text back.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { BYTE_TO_UNICODE, ByteLevelBpe } from '../src/core/tokenizers/bpe';
import {
  FuzzTally, byteMutation, fuzzOptions, jsonMutation, lineMutation, mutateBytes, mutateJson, mutateLines, serializeJson,
} from './helpers/fuzz';

const tally = new FuzzTally();
afterAll(() => console.log(tally.report()));

interface TokenizerSeed { vocab: Record<string, number>; merges: string[] }

/** A valid byte-level vocabulary: the 256 byte symbols, then merges of adjacent symbols of `words`. */
function seedFrom(words: string[]): TokenizerSeed {
  const vocab: Record<string, number> = {};
  BYTE_TO_UNICODE.forEach((ch, i) => { vocab[ch] = i; });
  const merges: string[] = [];
  for (const word of words) {
    const symbols = [...new TextEncoder().encode(word)].map((b) => BYTE_TO_UNICODE[b]);
    let acc = symbols[0];
    for (const next of symbols.slice(1)) {
      if (!Object.hasOwn(vocab, acc + next) && merges.length < 200) {
        vocab[acc + next] = Object.keys(vocab).length;
        merges.push(`${acc} ${next}`);
      }
      acc += next;
    }
  }
  vocab['<|endoftext|>'] = Object.keys(vocab).length;
  return { vocab, merges };
}

const seedArb = fc.array(fc.string({ minLength: 2, maxLength: 8 }), { maxLength: 12 }).map(seedFrom);
const textArb = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('<|endoftext|>', 'a<|endoftext|>b', "it's  \u0085 x"));

/** String.prototype.toWellFormed (ES2024): lone surrogates become U+FFFD, as UTF-8 encoding does. */
const wellFormed = (text: string) => text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');

function checkEncodes(tokenizer: ByteLevelBpe, text: string, roundTrip: boolean): void {
  const ids = tokenizer.encode(text);
  for (const id of ids) expect(tokenizer.token(id)).toBeDefined();
  if (roundTrip) expect(tokenizer.decode(ids)).toBe(wellFormed(text));
}

function tokenizerJson(seed: TokenizerSeed): Record<string, unknown> {
  return {
    version: '1.0',
    added_tokens: [{ id: seed.vocab['<|endoftext|>'], content: '<|endoftext|>', special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', vocab: seed.vocab, merges: seed.merges },
  };
}

describe('fuzz: vocab.json + merges.txt', () => {
  it('valid files load and round-trip any text', () => {
    fc.assert(
      fc.property(seedArb, textArb, (seed, text) => {
        const tok = tally.run('vocab.json+merges.txt (valid)', () => ByteLevelBpe.fromVocabAndMerges(JSON.stringify(seed.vocab), `#version: 0.2\n${seed.merges.join('\n')}\n`))!;
        checkEncodes(tok, text, true);
      }),
      fuzzOptions(),
    );
  });

  it('mutated vocab.json (structure) and merges.txt (lines) load and encode, or give a FactlabError', () => {
    fc.assert(
      fc.property(seedArb, fc.array(jsonMutation, { maxLength: 3 }), fc.array(lineMutation, { maxLength: 3 }), textArb, (seed, jsonMuts, lineMuts, text) => {
        const vocabText = serializeJson(mutateJson(seed.vocab, jsonMuts));
        const mergesText = mutateLines(`#version: 0.2\n${seed.merges.join('\n')}\n`, lineMuts);
        const tok = tally.run('vocab.json+merges.txt (mutated)', () => ByteLevelBpe.fromVocabAndMerges(vocabText, mergesText));
        if (tok) checkEncodes(tok, text, false);
      }),
      fuzzOptions(),
    );
  });

  it('byte-mutated vocab.json and merges.txt load and encode, or give a FactlabError', () => {
    fc.assert(
      fc.property(seedArb, fc.array(byteMutation, { maxLength: 3 }), fc.array(byteMutation, { maxLength: 3 }), textArb, (seed, vocabMuts, mergeMuts, text) => {
        const enc = new TextEncoder(), dec = new TextDecoder();
        const vocabText = dec.decode(mutateBytes(enc.encode(JSON.stringify(seed.vocab)), vocabMuts));
        const mergesText = dec.decode(mutateBytes(enc.encode(seed.merges.join('\n')), mergeMuts));
        const tok = tally.run('vocab.json+merges.txt (byte mutations)', () => ByteLevelBpe.fromVocabAndMerges(vocabText, mergesText));
        if (tok) checkEncodes(tok, text, false);
      }),
      fuzzOptions(),
    );
  });
});

describe('fuzz: tokenizer.json', () => {
  it('valid files load and round-trip any text', () => {
    fc.assert(
      fc.property(seedArb, textArb, (seed, text) => {
        const tok = tally.run('tokenizer.json (valid)', () => ByteLevelBpe.fromTokenizerJson(JSON.stringify(tokenizerJson(seed))))!;
        checkEncodes(tok, text, true);
      }),
      fuzzOptions(),
    );
  });

  it('mutated files (structure-aware) load and encode, or give a FactlabError', () => {
    fc.assert(
      fc.property(seedArb, fc.array(jsonMutation, { minLength: 1, maxLength: 4 }), textArb, (seed, mutations, text) => {
        const json = serializeJson(mutateJson(tokenizerJson(seed), mutations));
        const tok = tally.run('tokenizer.json (mutated)', () => ByteLevelBpe.fromTokenizerJson(json));
        if (tok) checkEncodes(tok, text, false);
      }),
      fuzzOptions(),
    );
  });
});

describe('tokenizer.json: regressions', () => {
  it('many added tokens load in bounded time (each was looked up by a scan of the whole vocabulary)', () => {
    const seed = seedFrom([]);
    const json = tokenizerJson(seed) as { model: { vocab: Record<string, number> }; added_tokens: Array<{ id: number; content: string }> };
    for (let i = 0; i < 40_000; i++) json.model.vocab[`w${i}`] = 257 + i;
    for (let i = 0; i < 40_000; i++) json.added_tokens.push({ id: 40_257 + i, content: `<extra_${i}>` });
    const tok = tally.run('tokenizer.json (40 000 added tokens)', () => ByteLevelBpe.fromTokenizerJson(JSON.stringify(json)))!;
    expect(tok.encode('a<extra_39999>b')).toEqual([tok.tokenId('a'), 80_256, tok.tokenId('b')]);
  });
});
