/**
 * BERT's WordPiece tokenizer, read from a checkpoint's vocab.txt or tokenizer.json.
 * Reproduces Google BERT's `tokenization.py` (and HF's BertTokenizer):
 *  - special tokens ([CLS], [SEP], [MASK], ...) in the text are kept whole, before any
 *    normalisation, as HF does with its added tokens;
 *  - basic tokenizer: drop NUL, U+FFFD and control characters, map whitespace to a space,
 *    put spaces around CJK ideographs, split on whitespace; uncased models lower-case and
 *    strip accents (NFD, drop Mn); every punctuation character (Unicode P*, and all ASCII
 *    symbols such as $ + < = > ^ ` | ~) becomes its own word;
 *  - WordPiece: greedy longest match from the left, continuation pieces prefixed `##`;
 *    a word longer than 100 code points, or one that cannot be covered, becomes [UNK].
 */
import { FactlabError, previewValue } from '../errors';
import type { Tokenizer } from './types';

export interface WordPieceOptions {
  /** Uncased models (bert-base-uncased) lower-case the text. */
  lowercase: boolean;
  /** Strip accents (NFD, drop Mn); BERT's default is to do so exactly when lower-casing. */
  stripAccents?: boolean;
  /** Put spaces around CJK ideographs (BERT's default: yes). */
  splitCjk?: boolean;
  maxCharsPerWord?: number;
  unkToken?: string;
  continuationPrefix?: string;
  /** Tokens kept whole wherever they occur in the text; default: BERT's five, if in the vocab. */
  specialTokens?: string[];
}

const BERT_SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

const bad = (message: string) => new FactlabError('bad-tokenizer', message);

function isWhitespace(ch: string): boolean {
  return ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /\p{Zs}/u.test(ch);
}

function isControl(ch: string): boolean {
  if (ch === '\t' || ch === '\n' || ch === '\r') return false;
  return /\p{C}/u.test(ch);
}

/** BERT counts every non-alphanumeric ASCII character as punctuation, plus Unicode P*. */
export function isBertPunctuation(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /\p{P}/u.test(ch);
}

/** The CJK Unified Ideograph blocks BERT splits (not kana or hangul). */
export function isCjkIdeograph(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** The tokens of a vocab.txt, in id order (one per line; a final newline ends the last). */
export function vocabTxtLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export class WordPiece implements Tokenizer {
  readonly vocabSize: number;
  readonly lowercase: boolean;
  readonly unkId: number;
  readonly maskId: number;
  readonly clsId: number | undefined;
  readonly sepId: number | undefined;
  private readonly idOf: Map<string, number>;
  private readonly tokens: string[];
  private readonly stripAccents: boolean;
  private readonly splitCjk: boolean;
  private readonly maxChars: number;
  private readonly prefix: string;
  private readonly specialPattern: RegExp | undefined;

  /** `vocab[i]` is the token with id i. */
  constructor(vocab: string[], options: WordPieceOptions) {
    if (vocab.length === 0) throw bad('The WordPiece vocabulary is empty; vocab.txt must list one token per line.');
    this.idOf = new Map();
    vocab.forEach((token, id) => {
      if (token === '') throw bad(`The WordPiece vocabulary has an empty token at line ${id + 1}.`);
      if (this.idOf.has(token)) {
        throw bad(`The WordPiece vocabulary lists ${previewValue(token)} twice (lines ${this.idOf.get(token)! + 1} and ${id + 1}); each token must appear once.`);
      }
      this.idOf.set(token, id);
    });
    this.tokens = vocab;
    this.vocabSize = vocab.length;
    this.lowercase = options.lowercase;
    this.stripAccents = options.stripAccents ?? options.lowercase;
    this.splitCjk = options.splitCjk ?? true;
    this.maxChars = options.maxCharsPerWord ?? 100;
    this.prefix = options.continuationPrefix ?? '##';
    const unk = options.unkToken ?? '[UNK]';
    const required = (token: string, why: string): number => {
      const id = this.idOf.get(token);
      if (id === undefined) throw bad(`The WordPiece vocabulary has no ${token} token, which BERT needs ${why}. Is this a BERT vocab.txt?`);
      return id;
    };
    this.unkId = required(unk, 'for words it cannot split');
    this.maskId = required('[MASK]', 'for cloze prompts');
    this.clsId = this.idOf.get('[CLS]');
    this.sepId = this.idOf.get('[SEP]');
    const specials = (options.specialTokens ?? BERT_SPECIALS).filter((t) => this.idOf.has(t));
    if (specials.length > 0) {
      const escaped = specials.sort((a, b) => b.length - a.length).map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
      this.specialPattern = new RegExp(`(${escaped.join('|')})`, 'u');
    }
  }

  /** From vocab.txt: one token per line, the id is the line number from 0. */
  static fromVocabTxt(text: string, options: WordPieceOptions): WordPiece {
    return new WordPiece(vocabTxtLines(text), options);
  }

  /** From a Hugging Face tokenizer.json with a WordPiece model and a BertNormalizer. */
  static fromTokenizerJson(text: string): WordPiece {
    let json: Record<string, any>;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw bad(`tokenizer.json is not valid JSON (${(err as Error).message}).`);
    }
    const model = json?.model;
    if (model?.type !== 'WordPiece' || typeof model.vocab !== 'object' || model.vocab === null) {
      throw bad(`tokenizer.json has model type ${previewValue(model?.type)}; a BERT tokenizer needs "WordPiece" with a vocab.`);
    }
    const vocab: string[] = [];
    for (const [token, id] of Object.entries(model.vocab)) {
      if (!Number.isSafeInteger(id) || (id as number) < 0 || (id as number) >= 1 << 24) throw bad(`tokenizer.json: token ${previewValue(token)} has id ${previewValue(id)}.`);
      if (vocab[id as number] !== undefined) throw bad(`tokenizer.json: id ${id} is used by both ${previewValue(vocab[id as number])} and ${previewValue(token)}.`);
      vocab[id as number] = token;
    }
    for (const added of Array.isArray(json.added_tokens) ? json.added_tokens : []) {
      if (typeof added?.content === 'string' && Number.isSafeInteger(added.id) && vocab[added.id] === undefined) vocab[added.id] = added.content;
    }
    const gap = vocab.findIndex((t) => t === undefined);
    if (gap >= 0) throw bad(`tokenizer.json: no token has id ${gap}; WordPiece ids must be 0 … ${vocab.length - 1} without gaps.`);
    const normalizer = json.normalizer;
    if (normalizer?.type !== 'BertNormalizer') {
      throw bad(`tokenizer.json has normalizer ${previewValue(normalizer?.type ?? null)}; only BERT's ("BertNormalizer") is supported. Use the checkpoint's vocab.txt instead.`);
    }
    const specials = (Array.isArray(json.added_tokens) ? json.added_tokens : []).filter((t: any) => t?.special && typeof t.content === 'string').map((t: any) => t.content as string);
    return new WordPiece(vocab, {
      lowercase: normalizer.lowercase !== false,
      stripAccents: typeof normalizer.strip_accents === 'boolean' ? normalizer.strip_accents : undefined,
      splitCjk: normalizer.handle_chinese_chars !== false,
      maxCharsPerWord: Number.isSafeInteger(model.max_input_chars_per_word) ? model.max_input_chars_per_word : undefined,
      unkToken: typeof model.unk_token === 'string' ? model.unk_token : undefined,
      continuationPrefix: typeof model.continuing_subword_prefix === 'string' ? model.continuing_subword_prefix : undefined,
      specialTokens: specials.length > 0 ? specials : undefined,
    });
  }

  /** WordPiece tokens (strings) of a text, without [CLS]/[SEP]. */
  tokenize(text: string): string[] {
    const out: string[] = [];
    const parts = this.specialPattern ? text.split(this.specialPattern) : [text];
    parts.forEach((part, i) => {
      // With a capturing split, odd indices are the special tokens themselves.
      if (i % 2 === 1) out.push(part);
      else for (const word of this.basicTokenize(part)) out.push(...this.wordPieces(word));
    });
    return out;
  }

  encode(text: string): number[] {
    return this.tokenize(text).map((t) => this.idOf.get(t) ?? this.unkId);
  }

  /** [CLS] text [SEP], the form BERT was trained on. */
  encodeForModel(text: string): number[] {
    if (this.clsId === undefined || this.sepId === undefined) throw bad('The WordPiece vocabulary has no [CLS] or no [SEP] token, so it cannot frame a BERT input.');
    return [this.clsId, ...this.encode(text), this.sepId];
  }

  /** Tokens joined by spaces with `##` continuations glued on (BERT's decode, without cleanup of punctuation spacing). */
  decode(ids: number[]): string {
    return ids.map((id) => this.tokenText(id)).join(' ').split(` ${this.prefix}`).join('');
  }

  tokenText(id: number): string {
    const token = this.tokens[id];
    if (token === undefined) throw new FactlabError('bad-token-id', `Token id ${id} is not in the vocabulary (${this.vocabSize} entries).`);
    return token;
  }

  tokenId(token: string): number | undefined {
    return this.idOf.get(token);
  }

  /** BERT's BasicTokenizer: cleaning, CJK spacing, casing/accents, punctuation split. */
  basicTokenize(text: string): string[] {
    let cleaned = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
      if (isWhitespace(ch)) cleaned += ' ';
      else if (this.splitCjk && isCjkIdeograph(cp)) cleaned += ` ${ch} `;
      else cleaned += ch;
    }
    const words: string[] = [];
    for (let word of cleaned.split(/\s+/u)) {
      if (word === '') continue;
      if (this.lowercase) word = word.toLowerCase();
      if (this.stripAccents) word = word.normalize('NFD').replace(/\p{Mn}/gu, '');
      let current = '';
      for (const ch of word) {
        if (isBertPunctuation(ch)) {
          if (current) words.push(current);
          words.push(ch);
          current = '';
        } else current += ch;
      }
      if (current) words.push(current);
    }
    return words;
  }

  /** Greedy longest-match-first split of one word; the whole word is [UNK] if any part fails. */
  private wordPieces(word: string): string[] {
    const chars = Array.from(word);
    const unk = this.tokens[this.unkId];
    if (chars.length > this.maxChars) return [unk];
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      let found: string | undefined;
      while (start < end) {
        const candidate = (start > 0 ? this.prefix : '') + chars.slice(start, end).join('');
        if (this.idOf.has(candidate)) {
          found = candidate;
          break;
        }
        end--;
      }
      if (found === undefined) return [unk];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }
}
