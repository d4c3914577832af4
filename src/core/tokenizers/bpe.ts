/**
 * GPT-2 byte-level BPE, read from Hugging Face files (vocab.json + merges.txt, or
 * tokenizer.json). Reproduces OpenAI's GPT-2 encoder:
 *  - text is split on special tokens first (every special token present in the text is
 *    encoded as its id, like HF's added tokens / tiktoken with allowed_special="all");
 *    `encode(text, { special: false })` treats them as plain text instead;
 *  - pre-tokenization uses GPT-2's regex with Python `regex` semantics: `\s` is Unicode
 *    White_Space (so U+0085 is whitespace and U+FEFF is not, unlike JavaScript's `\s`);
 *  - each piece is UTF-8 encoded (a lone surrogate becomes U+FFFD, as TextEncoder does),
 *    mapped through GPT-2's byte→unicode table and merged by rank, exactly as GPT-2
 *    does (all occurrences of the lowest-ranked pair per round, left to right).
 */
import { FactlabError, previewValue } from '../errors';
import type { Tokenizer } from './types';

/** GPT-2's pre-tokenization regex; `\s` spelled as White_Space to match Python `regex`. */
export const GPT2_SPLIT_REGEX =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

/** Bytes in GPT-2's `bytes_to_unicode` order: printable ones first, then the rest. */
export const BYTE_ORDER: readonly number[] = (() => {
  const bs: number[] = [];
  for (let b = 0; b < 256; b++) if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) bs.push(b);
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) bs.push(b);
  return bs;
})();

/** GPT-2's byte → unicode character table (printable bytes map to themselves). */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const table: string[] = [];
  let n = 0;
  for (let b = 0; b < 256; b++) table[b] = BYTE_ORDER.indexOf(b) < 188 ? String.fromCharCode(b) : String.fromCharCode(256 + n++);
  return table;
})();

const UNICODE_TO_BYTE = new Int16Array(324).fill(-1);
BYTE_TO_UNICODE.forEach((ch, b) => { UNICODE_TO_BYTE[ch.charCodeAt(0)] = b; });

/** Split text into GPT-2 pre-tokens (the pieces concatenate back to the text). */
export function gpt2PreTokenize(text: string): string[] {
  return text.match(GPT2_SPLIT_REGEX) ?? [];
}

/** UTF-8 bytes of a JS string; lone surrogates become U+FFFD (EF BF BD) like TextEncoder. */
export function utf8Bytes(s: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) { out.push(c); continue; }
    if (c < 0x800) { out.push(0xc0 | (c >> 6), 0x80 | (c & 63)); continue; }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
        continue;
      }
      c = 0xfffd;
    }
    out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return out;
}

/** Token ids must be below this bound (pairs of ids are packed into one number). */
const ID_LIMIT = 2 ** 24;
const POS_LIMIT = 2 ** 28;
const bad = (message: string) => new FactlabError('bad-tokenizer', message);

export interface ByteLevelBpeOptions {
  /** Tokens matched in the input text before pre-tokenization (vocab.json form only;
   * default ['<|endoftext|>'] when that token is in the vocabulary). */
  specialTokens?: string[];
}

interface Merge { a: string; b: string; where: string }
interface Settings { addPrefixSpace: boolean; ignoreMerges: boolean }

export class ByteLevelBpe implements Tokenizer {
  readonly vocabSize: number;
  /** Special (added) tokens matched in the input text, content → id. */
  readonly specialTokens: ReadonlyMap<string, number>;
  private readonly idToToken = new Map<number, string>();
  /** pair key (a·2^24 + b) → rank·2^24 + merged id. */
  private readonly merges = new Map<number, number>();
  private readonly byteIds = new Int32Array(256);
  private readonly specialRe: RegExp | null;
  private readonly bytesCache = new Map<number, number[]>();
  private cache = new Map<string, number[]>();

  private constructor(
    private readonly tokenToId: Map<string, number>,
    merges: Merge[],
    special: Map<string, number>,
    private readonly settings: Settings,
    file: string,
  ) {
    for (const [tok, id] of tokenToId) this.idToToken.set(id, tok);
    if (merges.length >= ID_LIMIT) throw bad(`${file}: too many merges (${merges.length}).`);
    for (let b = 0; b < 256; b++) {
      const id = tokenToId.get(BYTE_TO_UNICODE[b]);
      if (id === undefined) throw bad(`${file}: the vocabulary lacks the byte symbol ${JSON.stringify(BYTE_TO_UNICODE[b])} (byte ${b}); a GPT-2 byte-level vocabulary has all 256.`);
      this.byteIds[b] = id;
    }
    merges.forEach(({ a, b, where }, rank) => {
      const ia = tokenToId.get(a), ib = tokenToId.get(b), ic = tokenToId.get(a + b);
      const missing = ia === undefined ? a : ib === undefined ? b : ic === undefined ? a + b : null;
      if (missing !== null) throw bad(`${where}: merge "${a} ${b}" refers to token ${JSON.stringify(missing)}, which is not in the vocabulary.`);
      const key = ia! * ID_LIMIT + ib!;
      if (!this.merges.has(key)) this.merges.set(key, rank * ID_LIMIT + ic!);
    });
    this.specialTokens = special;
    const names = [...special.keys()].sort((x, y) => y.length - x.length);
    this.specialRe = names.length ? new RegExp(names.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g') : null;
    this.vocabSize = tokenToId.size;
  }

  /** From HF `vocab.json` and `merges.txt` (an optional `#version` line is skipped). */
  static fromVocabAndMerges(vocabJsonText: string, mergesText: string, opts: ByteLevelBpeOptions = {}): ByteLevelBpe {
    const vocab = parseVocab(parseJson(vocabJsonText, 'vocab.json'), 'vocab.json');
    const merges: Merge[] = [];
    mergesText.split('\n').forEach((raw, i) => {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line === '' || line.startsWith('#version')) return;
      const parts = line.split(' ');
      if (parts.length !== 2 || !parts[0] || !parts[1]) {
        throw bad(`merges.txt line ${i + 1}: expected two tokens separated by one space, got ${JSON.stringify(line.slice(0, 80))}.`);
      }
      merges.push({ a: parts[0], b: parts[1], where: `merges.txt line ${i + 1}` });
    });
    const special = new Map<string, number>();
    for (const name of opts.specialTokens ?? ['<|endoftext|>']) {
      const id = vocab.get(name);
      if (id !== undefined) special.set(name, id);
      else if (opts.specialTokens) throw bad(`vocab.json: special token ${JSON.stringify(name)} is not in the vocabulary.`);
    }
    return new ByteLevelBpe(vocab, merges, special, { addPrefixSpace: false, ignoreMerges: false }, 'vocab.json');
  }

  /**
   * From a HF `tokenizer.json` holding a byte-level BPE model (GPT-2 style). Every entry
   * of `added_tokens` (special or not) is matched in the text; its lstrip/rstrip/
   * single_word flags are ignored. ByteLevel `add_prefix_space` and `ignore_merges` are
   * honoured; normalizers and other pre-tokenizers are refused rather than approximated.
   */
  static fromTokenizerJson(text: string): ByteLevelBpe {
    const F = 'tokenizer.json';
    const json = parseJson(text, F);
    if (!isObject(json)) throw bad(`${F} must be a JSON object.`);
    const model = json.model;
    if (!isObject(model)) throw bad(`${F} has no "model" object.`);
    if (model.type !== 'BPE') throw bad(`${F}: model.type is ${previewValue(model.type)}; factlab reads byte-level "BPE" tokenizers here.`);
    for (const key of ['continuing_subword_prefix', 'end_of_word_suffix']) {
      if (model[key] != null && model[key] !== '') throw bad(`${F}: model.${key} ${previewValue(model[key])} is not supported by a GPT-2 byte-level tokenizer.`);
    }
    if (json.normalizer != null) throw bad(`${F}: a normalizer (${previewValue(describeType(json.normalizer))}) is not supported; GPT-2 tokenizers have none.`);
    let addPrefixSpace = false;
    const pre = json.pre_tokenizer;
    if (pre != null) {
      const byteLevel = isObject(pre) && pre.type === 'Sequence' && Array.isArray(pre.pretokenizers) && pre.pretokenizers.length === 1 ? pre.pretokenizers[0] : pre;
      if (!isObject(byteLevel) || byteLevel.type !== 'ByteLevel' || byteLevel.use_regex === false) {
        throw bad(`${F}: pre_tokenizer ${previewValue(describeType(pre))} is not supported; expected GPT-2's ByteLevel pre-tokenizer.`);
      }
      addPrefixSpace = byteLevel.add_prefix_space === true;
    }
    const vocab = parseVocab(model.vocab, `${F} model.vocab`);
    if (!Array.isArray(model.merges)) throw bad(`${F}: model.merges must be an array.`);
    const merges = model.merges.map((m: unknown, i: number): Merge => {
      const where = `${F} model.merges[${i}]`;
      const parts = typeof m === 'string' ? m.split(' ') : m;
      if (!Array.isArray(parts) || parts.length !== 2 || typeof parts[0] !== 'string' || typeof parts[1] !== 'string' || !parts[0] || !parts[1]) {
        throw bad(`${where}: expected "a b" or ["a", "b"], got ${previewValue(m)}.`);
      }
      return { a: parts[0], b: parts[1], where };
    });
    const special = new Map<string, number>();
    const added = json.added_tokens ?? [];
    if (!Array.isArray(added)) throw bad(`${F}: added_tokens must be an array.`);
    // By id, built once: a search of the vocabulary per added token is quadratic in the file.
    const tokenOfId = new Map<number, string>();
    for (const [tok, id] of vocab) tokenOfId.set(id, tok);
    added.forEach((t: unknown, i: number) => {
      if (!isObject(t) || typeof t.content !== 'string' || t.content === '' || !isValidId(t.id)) {
        throw bad(`${F}: added_tokens[${i}] must have a non-empty string "content" and an integer "id" (0 ≤ id < ${ID_LIMIT}).`);
      }
      const byContent = vocab.get(t.content), byId = tokenOfId.get(t.id);
      if ((byContent !== undefined && byContent !== t.id) || (byId !== undefined && byId !== t.content)) {
        throw bad(`${F}: added_tokens[${i}] ${JSON.stringify(t.content)} with id ${t.id} clashes with the vocabulary (${byContent !== undefined ? `it has id ${byContent}` : `id ${t.id} is ${JSON.stringify(byId)}`}).`);
      }
      vocab.set(t.content, t.id);
      tokenOfId.set(t.id, t.content);
      special.set(t.content, t.id);
    });
    return new ByteLevelBpe(vocab, merges, special, { addPrefixSpace, ignoreMerges: model.ignore_merges === true }, F);
  }

  /** Token ids of `text`. Never throws. `special: false` encodes special tokens as plain text. */
  encode(text: string, opts: { special?: boolean } = {}): number[] {
    const out: number[] = [];
    if (!this.specialRe || opts.special === false) {
      this.encodeOrdinary(text, out);
      return out;
    }
    let last = 0;
    for (const m of text.matchAll(this.specialRe)) {
      this.encodeOrdinary(text.slice(last, m.index), out);
      out.push(this.specialTokens.get(m[0])!);
      last = m.index + m[0].length;
    }
    this.encodeOrdinary(text.slice(last), out);
    return out;
  }

  decode(ids: number[]): string {
    const bytes: number[] = [];
    for (const id of ids) for (const b of this.tokenBytes(id)) bytes.push(b);
    return new TextDecoder().decode(new Uint8Array(bytes));
  }

  tokenText(id: number): string {
    return this.decode([id]);
  }

  tokenId(token: string): number | undefined {
    return this.tokenToId.get(token);
  }

  /** Raw vocabulary entry of an id (e.g. 'Ġthe'), or undefined. */
  token(id: number): string | undefined {
    return this.idToToken.get(id);
  }

  private tokenBytes(id: number): number[] {
    let bytes = this.bytesCache.get(id);
    if (bytes) return bytes;
    const tok = this.idToToken.get(id);
    if (tok === undefined) throw new FactlabError('bad-token-id', `Token id ${id} is not in the vocabulary (${this.vocabSize} entries).`);
    if (this.specialTokens.has(tok)) bytes = utf8Bytes(tok);
    else {
      bytes = [];
      for (const ch of tok) {
        const c = ch.charCodeAt(0), b = ch.length === 1 && c < 324 ? UNICODE_TO_BYTE[c] : -1;
        if (b >= 0) bytes.push(b);
        else bytes.push(...utf8Bytes(ch));
      }
    }
    this.bytesCache.set(id, bytes);
    return bytes;
  }

  private encodeOrdinary(segment: string, out: number[]): void {
    if (segment === '') return;
    if (this.settings.addPrefixSpace && !segment.startsWith(' ')) segment = ' ' + segment;
    for (const word of gpt2PreTokenize(segment)) {
      let ids = this.cache.get(word);
      if (!ids) {
        ids = this.bpe(word);
        if (this.cache.size >= 100_000) this.cache = new Map();
        if (word.length < 256) this.cache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  /** Merge one pre-token: rounds of the lowest-ranked pair, all its occurrences left to right. */
  private bpe(word: string): number[] {
    const bytes = utf8Bytes(word);
    if (this.settings.ignoreMerges) {
      let s = '';
      for (const b of bytes) s += BYTE_TO_UNICODE[b];
      const whole = this.tokenToId.get(s);
      if (whole !== undefined) return [whole];
    }
    const n = bytes.length;
    const ids = new Int32Array(n), next = new Int32Array(n), prev = new Int32Array(n);
    for (let i = 0; i < n; i++) { ids[i] = this.byteIds[bytes[i]]; next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; }
    if (n >= POS_LIMIT) return Array.from(ids);
    const heap = new MinHeap();
    let pending: number[] = [];
    const consider = (p: number, into: { push(v: number): void }) => {
      const q = next[p];
      if (p < 0 || q < 0) return;
      const m = this.merges.get(ids[p] * ID_LIMIT + ids[q]);
      if (m !== undefined) into.push(Math.floor(m / ID_LIMIT) * POS_LIMIT + p);
    };
    for (let i = 0; i + 1 < n; i++) consider(i, heap);
    let round = -1;
    for (;;) {
      if (pending.length && (heap.size === 0 || Math.floor(heap.peek() / POS_LIMIT) !== round)) {
        for (const v of pending) heap.push(v);
        pending = [];
      }
      if (heap.size === 0) break;
      const top = heap.pop();
      const rank = Math.floor(top / POS_LIMIT), p = top % POS_LIMIT, q = next[p];
      if (ids[p] < 0 || q < 0) continue;
      const m = this.merges.get(ids[p] * ID_LIMIT + ids[q]);
      if (m === undefined || Math.floor(m / ID_LIMIT) !== rank) continue;
      round = rank;
      ids[p] = m % ID_LIMIT;
      ids[q] = -1;
      next[p] = next[q];
      if (next[q] >= 0) prev[next[q]] = p;
      consider(prev[p], pending);
      consider(p, pending);
    }
    const result: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) result.push(ids[i]);
    return result;
  }
}

/** Binary min-heap of numbers. */
class MinHeap {
  private a: number[] = [];
  get size(): number { return this.a.length; }
  peek(): number { return this.a[0]; }
  push(v: number): void {
    const a = this.a;
    let i = a.push(v) - 1;
    for (let p = (i - 1) >> 1; i > 0 && a[p] > v; i = p, p = (i - 1) >> 1) a[i] = a[p];
    a[i] = v;
  }
  pop(): number {
    const a = this.a, top = a[0], last = a.pop()!;
    if (!a.length) return top;
    let i = 0;
    for (let c = 1; c < a.length; i = c, c = 2 * i + 1) {
      if (c + 1 < a.length && a[c + 1] < a[c]) c++;
      if (a[c] >= last) break;
      a[i] = a[c];
    }
    a[i] = last;
    return top;
  }
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw bad(`${file} is not valid JSON (${(err as Error).message}).`);
  }
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isValidId(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) < ID_LIMIT;
}

function describeType(v: unknown): unknown {
  return isObject(v) ? v.type ?? v : v;
}

function parseVocab(json: unknown, file: string): Map<string, number> {
  if (!isObject(json)) throw bad(`${file} must be a JSON object mapping token strings to integer ids.`);
  const vocab = new Map<string, number>();
  const byId = new Map<number, string>();
  for (const [tok, id] of Object.entries(json)) {
    if (!isValidId(id)) throw bad(`${file}: token ${JSON.stringify(tok)} has id ${previewValue(id)}; ids must be integers from 0 to ${ID_LIMIT - 1}.`);
    if (tok === '') throw bad(`${file}: the empty string is not a valid token (id ${id}).`);
    const other = byId.get(id);
    if (other !== undefined) throw bad(`${file}: duplicate id ${id} for tokens ${JSON.stringify(other)} and ${JSON.stringify(tok)}.`);
    byId.set(id, tok);
    vocab.set(tok, id);
  }
  return vocab;
}
