/**
 * A byte-level BPE vocabulary trainer that produces GPT-2 style files.
 *
 * - Texts are first split on the special tokens (those never take part in merges), then
 *   pre-tokenized with GPT-2's regex and UTF-8 encoded, exactly as `ByteLevelBpe` does.
 * - Ids 0..255 are the 256 byte symbols in the order of GPT-2's `bytes_to_unicode`
 *   table (printable bytes first: '!' is 0, as in GPT-2's own vocab.json), then one id
 *   per learned token in merge order, then the special tokens (default ['<|endoftext|>']).
 * - Each step merges the most frequent adjacent pair; ties go to the pair whose token
 *   strings come first lexicographically (left token, then right token, by UTF-16 code
 *   units), so training is deterministic. Pair counts are updated incrementally.
 * - If a merge produces a string that is already a token, the merge is recorded but the
 *   vocabulary does not grow (as HF does); a merge that would produce a special token's
 *   text is skipped. Training stops early (smaller vocabulary) when no pair is left or
 *   the best pair occurs fewer than `minFrequency` times.
 */
import { CancelledError, FactlabError } from '../errors';
import { BYTE_ORDER, BYTE_TO_UNICODE, gpt2PreTokenize, utf8Bytes } from './bpe';

export interface TrainBpeOptions {
  /** Final vocabulary size, special tokens included. */
  vocabSize: number;
  /** Do not merge pairs seen fewer times than this (default 0: merge while any pair exists). */
  minFrequency?: number;
  /** Appended after the learned tokens; default ['<|endoftext|>']. */
  specialTokens?: string[];
  /** Called now and then with the fraction of merges done. */
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
}

export interface TrainedBpe {
  vocab: Record<string, number>;
  merges: [string, string][];
}

const KEY = 2 ** 24;

interface Entry { count: number; key: number }

export function trainByteLevelBpe(texts: Iterable<string>, opts: TrainBpeOptions): TrainedBpe {
  const specials = opts.specialTokens ?? ['<|endoftext|>'];
  const minFrequency = opts.minFrequency ?? 0;
  const byteSymbols = BYTE_ORDER.map((b) => BYTE_TO_UNICODE[b]);
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < 256 + specials.length || opts.vocabSize >= KEY) {
    throw new FactlabError('bad-option', `vocabSize must be an integer from ${256 + specials.length} (256 bytes + ${specials.length} special tokens) to ${KEY - 1}, got ${opts.vocabSize}.`);
  }
  if (!(minFrequency >= 0)) throw new FactlabError('bad-option', `minFrequency must be ≥ 0, got ${minFrequency}.`);
  specials.forEach((s, i) => {
    if (typeof s !== 'string' || s === '') throw new FactlabError('bad-option', `specialTokens[${i}] must be a non-empty string.`);
    if (specials.indexOf(s) !== i) throw new FactlabError('bad-option', `special token ${JSON.stringify(s)} is listed twice.`);
    if (byteSymbols.includes(s)) throw new FactlabError('bad-option', `special token ${JSON.stringify(s)} is also a byte symbol of the vocabulary.`);
  });

  // 1. Word frequencies.
  const specialRe = specials.length
    ? new RegExp([...specials].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g')
    : null;
  const wordCounts = new Map<string, number>();
  for (const text of texts) {
    for (const segment of specialRe ? text.split(specialRe) : [text]) {
      for (const w of gpt2PreTokenize(segment)) wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
    }
  }

  // 2. Symbols, words as id sequences, pair counts and where each pair occurs.
  const tokens = [...byteSymbols];
  const tokenIndex = new Map(tokens.map((t, i) => [t, i]));
  const byteId = new Int32Array(256);
  BYTE_ORDER.forEach((b, i) => { byteId[b] = i; });
  const words: number[][] = [];
  const freq: number[] = [];
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  for (const [w, f] of wordCounts) {
    const seq = utf8Bytes(w).map((b) => byteId[b]);
    const wi = words.push(seq) - 1;
    freq.push(f);
    for (let i = 0; i + 1 < seq.length; i++) {
      const k = seq[i] * KEY + seq[i + 1];
      pairCount.set(k, (pairCount.get(k) ?? 0) + f);
      let set = pairWords.get(k);
      if (!set) pairWords.set(k, (set = new Set()));
      set.add(wi);
    }
  }

  // 3. Merge loop over a lazily updated max-heap of pair counts.
  const before = (x: Entry, y: Entry): boolean => {
    if (x.count !== y.count) return x.count > y.count;
    const xa = tokens[Math.floor(x.key / KEY)], ya = tokens[Math.floor(y.key / KEY)];
    if (xa !== ya) return xa < ya;
    return tokens[x.key % KEY] < tokens[y.key % KEY];
  };
  const heap = new Heap(before);
  for (const [key, count] of pairCount) heap.push({ count, key });
  const specialSet = new Set(specials);
  const target = opts.vocabSize - specials.length;
  const merges: [string, string][] = [];
  const startSize = tokens.length;

  while (tokens.length < target && heap.size > 0) {
    const top = heap.pop();
    const count = pairCount.get(top.key) ?? 0;
    if (count !== top.count) {
      if (count > 0) heap.push({ count, key: top.key });
      continue;
    }
    if (count < minFrequency) break;
    const a = Math.floor(top.key / KEY), b = top.key % KEY;
    const merged = tokens[a] + tokens[b];
    if (specialSet.has(merged)) continue; // dropped; skipped again if it ever comes back
    let newId = tokenIndex.get(merged);
    if (newId === undefined) {
      newId = tokens.push(merged) - 1;
      tokenIndex.set(merged, newId);
    }
    merges.push([tokens[a], tokens[b]]);

    const delta = new Map<number, number>();
    const bump = (k: number, d: number) => delta.set(k, (delta.get(k) ?? 0) + d);
    for (const wi of pairWords.get(top.key) ?? []) {
      const seq = words[wi], f = freq[wi];
      const out: number[] = [];
      for (let i = 0; i < seq.length; i++) {
        if (i + 1 < seq.length && seq[i] === a && seq[i + 1] === b) { out.push(newId); i++; } else out.push(seq[i]);
      }
      if (out.length === seq.length) continue;
      for (let i = 0; i + 1 < seq.length; i++) bump(seq[i] * KEY + seq[i + 1], -f);
      for (let i = 0; i + 1 < out.length; i++) {
        const k = out[i] * KEY + out[i + 1];
        bump(k, f);
        if (out[i] === newId || out[i + 1] === newId) {
          let set = pairWords.get(k);
          if (!set) pairWords.set(k, (set = new Set()));
          set.add(wi);
        }
      }
      words[wi] = out;
    }
    pairWords.delete(top.key);
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const c = (pairCount.get(k) ?? 0) + d;
      if (c > 0) pairCount.set(k, c);
      else { pairCount.delete(k); pairWords.delete(k); }
      if (d > 0) heap.push({ count: c, key: k });
    }
    if (merges.length % 64 === 0) {
      if (opts.signal?.aborted) throw new CancelledError('tokenizer training');
      opts.onProgress?.((tokens.length - startSize) / Math.max(1, target - startSize));
    }
  }

  const vocab: Record<string, number> = Object.create(null);
  tokens.forEach((t, i) => { vocab[t] = i; });
  specials.forEach((s, i) => { vocab[s] = tokens.length + i; });
  opts.onProgress?.(1);
  return { vocab, merges };
}

/** HF vocab.json text, entries in id order. */
export function serializeVocabJson(vocab: Record<string, number>): string {
  const entries = Object.entries(vocab).sort((x, y) => x[1] - y[1]);
  return `{${entries.map(([t, id]) => `${JSON.stringify(t)}: ${id}`).join(', ')}}\n`;
}

/** HF merges.txt text with the '#version: 0.2' header line. */
export function serializeMerges(merges: [string, string][]): string {
  const lines = merges.map(([a, b], i) => {
    if (!a || !b || /[ \r\n]/.test(a + b)) throw new FactlabError('bad-tokenizer', `merge ${i} (${JSON.stringify([a, b])}) cannot be written to merges.txt: tokens must be non-empty and free of spaces and line breaks.`);
    return `${a} ${b}\n`;
  });
  return `#version: 0.2\n${lines.join('')}`;
}

/** Binary heap ordered by `before` (the top is the entry that comes first). */
class Heap {
  private a: Entry[] = [];
  constructor(private readonly before: (x: Entry, y: Entry) => boolean) {}
  get size(): number { return this.a.length; }
  push(v: Entry): void {
    const a = this.a;
    let i = a.push(v) - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(v, a[p])) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = v;
  }
  pop(): Entry {
    const a = this.a, top = a[0], last = a.pop()!;
    if (a.length) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= a.length) break;
        if (c + 1 < a.length && this.before(a[c + 1], a[c])) c++;
        if (!this.before(a[c], last)) break;
        a[i] = a[c];
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}
