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
import { FactlabError } from '../errors';
import { BYTE_ORDER, BYTE_TO_UNICODE, gpt2PreTokenize, utf8Bytes } from './bpe';
import { MAX_MERGE_TOKENS, learnMerges } from './merge-learner';

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

export function trainByteLevelBpe(texts: Iterable<string>, opts: TrainBpeOptions): TrainedBpe {
  const specials = opts.specialTokens ?? ['<|endoftext|>'];
  const minFrequency = opts.minFrequency ?? 0;
  const byteSymbols = BYTE_ORDER.map((b) => BYTE_TO_UNICODE[b]);
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < 256 + specials.length || opts.vocabSize >= MAX_MERGE_TOKENS) {
    throw new FactlabError('bad-option', `vocabSize must be an integer from ${256 + specials.length} (256 bytes + ${specials.length} special tokens) to ${MAX_MERGE_TOKENS - 1}, got ${opts.vocabSize}.`);
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

  // 2. Words as byte-symbol id sequences, then the shared merge loop.
  const byteId = new Int32Array(256);
  BYTE_ORDER.forEach((b, i) => { byteId[b] = i; });
  const specialSet = new Set(specials);
  const { tokens, merges } = learnMerges({
    symbols: byteSymbols,
    words: [...wordCounts].map(([w, count]) => ({ symbols: utf8Bytes(w).map((b) => byteId[b]), count })),
    vocabSize: opts.vocabSize - specials.length,
    minFrequency,
    join: (a, b) => a + b,
    forbidden: (merged) => specialSet.has(merged),
    onProgress: opts.onProgress,
    signal: opts.signal,
  });

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
