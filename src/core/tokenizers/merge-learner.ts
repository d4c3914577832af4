/**
 * The merge loop that BPE-style vocabulary trainers share (byte-level BPE for GPT-2 in
 * bpe-train.ts, WordPiece for BERT in scripts/lib/wordpiece-vocab.ts): words are sequences
 * of symbol ids with a frequency; each step merges the most frequent adjacent pair into a
 * new token. Ties go to the pair whose token strings come first lexicographically (left,
 * then right, by UTF-16 code units), so training is deterministic whatever the word order.
 * Pair counts are updated incrementally over a lazily updated max-heap.
 *
 * A merge whose result is already a token is recorded but does not grow the vocabulary (as
 * HF does); a `forbidden` result is skipped. The loop stops at `vocabSize` tokens, when no
 * pair is left, or when the best pair occurs fewer than `minFrequency` times.
 */
import { CancelledError } from '../errors';

/** Pair keys pack two ids as a·KEY + b, exact in a double while ids stay below 2^24. */
export const MAX_MERGE_TOKENS = 2 ** 24;
const KEY = MAX_MERGE_TOKENS;

export interface MergeInput {
  /** The starting tokens, ids in this order; words are sequences of these ids. */
  symbols: string[];
  words: Array<{ symbols: number[]; count: number }>;
  /** Stop when the vocabulary has this many tokens. */
  vocabSize: number;
  minFrequency?: number;
  /** The token a merge of `a` and `b` makes (WordPiece drops the `##` of `b`). */
  join: (a: string, b: string) => string;
  forbidden?: (merged: string) => boolean;
  onProgress?: (fraction: number) => void;
  signal?: AbortSignal;
}

export interface MergeResult {
  /** Every token, the starting symbols first, then learned tokens in merge order. */
  tokens: string[];
  merges: [string, string][];
}

interface Entry { count: number; key: number }

export function learnMerges(input: MergeInput): MergeResult {
  const minFrequency = input.minFrequency ?? 0;
  const tokens = [...input.symbols];
  const tokenIndex = new Map(tokens.map((t, i) => [t, i]));
  const words: number[][] = [];
  const freq: number[] = [];
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  for (const { symbols: seq, count: f } of input.words) {
    const wi = words.push([...seq]) - 1;
    freq.push(f);
    for (let i = 0; i + 1 < seq.length; i++) {
      const k = seq[i] * KEY + seq[i + 1];
      pairCount.set(k, (pairCount.get(k) ?? 0) + f);
      let set = pairWords.get(k);
      if (!set) pairWords.set(k, (set = new Set()));
      set.add(wi);
    }
  }

  const before = (x: Entry, y: Entry): boolean => {
    if (x.count !== y.count) return x.count > y.count;
    const xa = tokens[Math.floor(x.key / KEY)], ya = tokens[Math.floor(y.key / KEY)];
    if (xa !== ya) return xa < ya;
    return tokens[x.key % KEY] < tokens[y.key % KEY];
  };
  const heap = new Heap(before);
  for (const [key, count] of pairCount) heap.push({ count, key });
  const target = input.vocabSize;
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
    const merged = input.join(tokens[a], tokens[b]);
    if (input.forbidden?.(merged)) continue; // dropped; skipped again if it ever comes back
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
      if (input.signal?.aborted) throw new CancelledError('tokenizer training');
      input.onProgress?.((tokens.length - startSize) / Math.max(1, target - startSize));
    }
  }
  return { tokens, merges };
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
