/** What every tokenizer in factlab offers (GPT-2 byte-level BPE, WordPiece, ...). */
export interface Tokenizer {
  /** Number of entries in the vocabulary (added/special tokens included). */
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: number[]): string;
  /** Display text of one token id (bytes decoded, may be partial UTF-8 shown with U+FFFD). */
  tokenText(id: number): string;
  /** Inverse lookup of a raw vocab entry (e.g. 'Ġthe'), or undefined. */
  tokenId(token: string): number | undefined;
}
