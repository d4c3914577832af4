import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FactlabError } from '../src/core/errors';
import { WordPiece } from '../src/core/tokenizers/wordpiece';

interface Fixture { vocab: string[]; cases: Array<{ text: string; lowercase: boolean }>; expected: string[][] }

const REFERENCE = fileURLToPath(new URL('./reference/wordpiece_ref.py', import.meta.url));
const FIXTURE_PATH = new URL('./reference/wordpiece-fixture.json', import.meta.url);
const fixture: Fixture = JSON.parse(readFileSync(FIXTURE_PATH, 'utf8'));
const hasPython = spawnSync('python3', ['--version']).status === 0;

const cased = new WordPiece(fixture.vocab, { lowercase: false });
const uncased = new WordPiece(fixture.vocab, { lowercase: true });

function expectError(fn: () => unknown, code: string, pattern: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FactlabError);
    expect((err as FactlabError).code).toBe(code);
    expect((err as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected an error');
}

describe('WordPiece parity with the independent Python reference of BERT tokenization', () => {
  it('matches the committed fixture on every case (cased and uncased)', () => {
    expect(fixture.cases.length).toBeGreaterThan(40);
    fixture.cases.forEach((c, i) => {
      const tokens = (c.lowercase ? uncased : cased).tokenize(c.text);
      expect({ text: c.text, lowercase: c.lowercase, tokens }).toEqual({ text: c.text, lowercase: c.lowercase, tokens: fixture.expected[i] });
    });
  });

  it.runIf(hasPython)('the fixture is what the reference produces now', () => {
    const run = spawnSync('python3', [REFERENCE, '--fixture'], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(fixture);
  });

  it.runIf(hasPython)('agrees with the reference on random mixtures of the corpus characters', () => {
    const pool = Array.from(new Set(fixture.cases.flatMap((c) => Array.from(c.text))));
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const cases = Array.from({ length: 200 }, (_, i) => ({
      text: Array.from({ length: 1 + Math.floor(next() * 40) }, () => pool[Math.floor(next() * pool.length)]).join(''),
      lowercase: i % 2 === 1,
    }));
    const run = spawnSync('python3', [REFERENCE], { input: JSON.stringify({ vocab: fixture.vocab, cases }), encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const expected: string[][] = JSON.parse(run.stdout);
    cases.forEach((c, i) => expect((c.lowercase ? uncased : cased).tokenize(c.text)).toEqual(expected[i]));
  });
});

describe('WordPiece ids, framing and decoding', () => {
  it('encodes to vocabulary ids and frames with [CLS] … [SEP]', () => {
    const ids = cased.encodeForModel('Paris is the capital of [MASK].');
    expect(ids.map((id) => cased.tokenText(id))).toEqual(['[CLS]', 'Paris', 'is', 'the', 'capital', 'of', '[MASK]', '.', '[SEP]']);
    expect(ids[6]).toBe(cased.maskId);
    expect(cased.tokenId('[MASK]')).toBe(cased.maskId);
  });

  it('decodes by gluing ## continuations', () => {
    expect(uncased.decode(uncased.encode('Unaffable runners'))).toBe('unaffable runners');
  });

  it('rejects an unknown id', () => {
    expectError(() => cased.tokenText(fixture.vocab.length), 'bad-token-id', /not in the vocabulary/);
  });
});

describe('WordPiece files', () => {
  const vocabTxt = `${fixture.vocab.join('\n')}\n`;

  it('reads vocab.txt with ids by line', () => {
    const fromTxt = WordPiece.fromVocabTxt(vocabTxt, { lowercase: false });
    expect(fromTxt.vocabSize).toBe(fixture.vocab.length);
    expect(fromTxt.tokenize('The Eiffel Tower')).toEqual(cased.tokenize('The Eiffel Tower'));
  });

  it('reads a tokenizer.json with a WordPiece model and BertNormalizer', () => {
    const json = JSON.stringify({
      normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab: Object.fromEntries(fixture.vocab.map((t, i) => [t, i])) },
      added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].map((content) => ({ id: fixture.vocab.indexOf(content), content, special: true })),
    });
    const fromJson = WordPiece.fromTokenizerJson(json);
    fixture.cases.filter((c) => c.lowercase).forEach((c) => expect(fromJson.tokenize(c.text)).toEqual(uncased.tokenize(c.text)));
  });

  it('rejects empty, duplicated or incomplete vocabularies with clear errors', () => {
    expectError(() => WordPiece.fromVocabTxt('', { lowercase: true }), 'bad-tokenizer', /empty/);
    expectError(() => WordPiece.fromVocabTxt('[UNK]\n[MASK]\nthe\nthe\n', { lowercase: true }), 'bad-tokenizer', /"the" twice \(lines 3 and 4\)/);
    expectError(() => WordPiece.fromVocabTxt('[MASK]\nthe\n', { lowercase: true }), 'bad-tokenizer', /no \[UNK\]/);
    expectError(() => WordPiece.fromVocabTxt('[UNK]\nthe\n', { lowercase: true }), 'bad-tokenizer', /no \[MASK\]/);
    expectError(() => WordPiece.fromVocabTxt('[UNK]\n\n[MASK]\n', { lowercase: true }), 'bad-tokenizer', /empty token at line 2/);
  });

  it('rejects tokenizer.json files that are not BERT WordPiece', () => {
    expectError(() => WordPiece.fromTokenizerJson('{'), 'bad-tokenizer', /not valid JSON/);
    expectError(() => WordPiece.fromTokenizerJson(JSON.stringify({ model: { type: 'BPE', vocab: {} } })), 'bad-tokenizer', /"BPE"/);
    expectError(
      () => WordPiece.fromTokenizerJson(JSON.stringify({ normalizer: { type: 'BertNormalizer' }, model: { type: 'WordPiece', vocab: { '[UNK]': 0, '[MASK]': 2 } } })),
      'bad-tokenizer',
      /no token has id 1/,
    );
  });
});
