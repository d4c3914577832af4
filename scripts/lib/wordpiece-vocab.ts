/**
 * A small, deterministic WordPiece vocabulary for a BERT trained from scratch, in
 * vocab.txt order:
 *   1. BERT's special tokens [PAD] [UNK] [CLS] [SEP] [MASK] (ids 0–4; compact, not HF's 0/100/101/102/103);
 *   2. every character seen, then its `##` continuation form (so no seen word is ever [UNK]);
 *   3. the required words (e.g. every one-word fact object), so each is one token;
 *   4. learned pieces: BPE-style merges over the words of the text (the merge loop GPT-2's
 *      tokenizer trainer uses; a merge of `a` and `##b` makes `ab`), most frequent first,
 *      until the vocabulary has `vocabSize` tokens.
 * Words are split exactly as the runtime's WordPiece splits them (its basic tokenizer), so
 * greedy longest-match encoding with the result covers every word of the text.
 */
import { FactlabError } from '../../src/core/errors';
import { learnMerges } from '../../src/core/tokenizers/merge-learner';
import { WordPiece } from '../../src/core/tokenizers/wordpiece';

export const BERT_SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

export interface WordPieceVocabOptions {
  vocabSize: number;
  /** Words that must be whole tokens; each must be one word for the basic tokenizer. */
  required?: string[];
  /** Uncased models lower-case (and strip accents) before counting; default cased. */
  lowercase?: boolean;
}

const CONTINUATION = '##';
/** WordPiece turns longer words into [UNK] whole, so their pieces would be wasted. */
const MAX_WORD_CHARS = 100;

/** The runtime's basic tokenizer (cleaning, punctuation split, casing), from a vocabulary of the specials alone. */
export function basicTokenizer(lowercase: boolean): (text: string) => string[] {
  const wp = new WordPiece(BERT_SPECIAL_TOKENS, { lowercase });
  return (text) => wp.basicTokenize(text);
}

export function buildWordPieceVocab(texts: Iterable<string>, options: WordPieceVocabOptions): string[] {
  const lowercase = options.lowercase ?? false;
  const split = basicTokenizer(lowercase);
  const counts = new Map<string, number>();
  for (const text of texts) for (const word of split(text)) counts.set(word, (counts.get(word) ?? 0) + 1);

  const required: string[] = [];
  for (const word of options.required ?? []) {
    const words = split(word);
    if (words.length !== 1) throw new FactlabError('bad-option', `required token ${JSON.stringify(word)} is ${words.length} words for BERT's basic tokenizer, so it can never be one token.`);
    if (!required.includes(words[0])) required.push(words[0]);
  }
  const chars = new Set<string>();
  for (const word of [...counts.keys(), ...required]) for (const ch of word) chars.add(ch);
  const charList = [...chars].sort();
  const symbols = [...BERT_SPECIAL_TOKENS, ...charList, ...charList.map((c) => CONTINUATION + c)];
  const seen = new Set(symbols);
  for (const word of required) {
    if (!seen.has(word)) {
      symbols.push(word);
      seen.add(word);
    }
  }
  if (symbols.length > options.vocabSize) {
    throw new FactlabError('bad-option', `vocabSize ${options.vocabSize} is too small: the special tokens, ${charList.length} characters (and their ## forms) and the required words already take ${symbols.length}.`);
  }

  const id = new Map(symbols.map((s, i) => [s, i]));
  const words = [...counts]
    .filter(([word]) => [...word].length <= MAX_WORD_CHARS)
    .map(([word, count]) => ({ symbols: [...word].map((ch, i) => id.get(i === 0 ? ch : CONTINUATION + ch)!), count }));
  const { tokens } = learnMerges({
    symbols,
    words,
    vocabSize: options.vocabSize,
    join: (a, b) => a + b.slice(CONTINUATION.length),
  });
  return tokens;
}

/** vocab.txt text: one token per line, the id is the line number. */
export function vocabTxt(vocab: string[]): string {
  return `${vocab.join('\n')}\n`;
}
