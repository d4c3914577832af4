/** Fact-file bytes to text: the size limit, strict UTF-8 with the offset and line of a bad byte, no BOM. */
import { FACT_LIMITS, factError } from './validate';

export type FactInput = string | Uint8Array | ArrayBuffer;

/** Offset of the first byte that breaks UTF-8, or -1 when the bytes are valid UTF-8. */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80];
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800];
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000];
    else return i;
    if (i + need >= n) return i;
    let cp = b & (need === 1 ? 0x1f : need === 2 ? 0x0f : 0x07);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function formatMb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/**
 * Decodes fact-file input to text: checks the size limit, then decodes bytes as UTF-8
 * (fatal: a file in another encoding is reported with the offset and line of the first
 * bad byte). A leading byte-order mark is dropped.
 */
export function decodeFactText(input: FactInput, options: { maxBytes?: number } = {}): string {
  const maxBytes = options.maxBytes ?? FACT_LIMITS.maxBytes;
  if (typeof input === 'string') {
    const size = input.length > maxBytes / 3 ? utf8Length(input) : input.length;
    if (size > maxBytes) throw factError('facts-too-large', `The input is ${formatMb(size)}; the limit is ${formatMb(maxBytes)}.`);
    return input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  }
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length > maxBytes) {
    throw factError('facts-too-large', `The file is ${formatMb(bytes.length)}; the limit is ${formatMb(maxBytes)}.`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8Offset(bytes);
    let line = 1;
    for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
    throw factError(
      'facts-not-utf8',
      `The file is not valid UTF-8 text: the byte at offset ${offset} (line ${line}) is not UTF-8. Save the file as UTF-8 and import it again.`,
    );
  }
}
