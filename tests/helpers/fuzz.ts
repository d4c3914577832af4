/**
 * Shared machinery of the parser fuzz tests: structure-aware mutations (of JSON values,
 * bytes and text lines) as fast-check arbitraries, and the one property every parser must
 * keep — an input either loads or is refused with a FactlabError, in bounded time.
 *
 * `npm test` runs a fixed seed and a small budget; `npm run fuzz` sets FACTLAB_FUZZ_RUNS
 * (runs per property) and, optionally, FACTLAB_FUZZ_SEED for a longer, different run.
 */
import fc from 'fast-check';
import { FactlabError } from '../../src/core/errors';

const FUZZ_RUNS = Number(process.env.FACTLAB_FUZZ_RUNS ?? 300);
const FUZZ_SEED = Number(process.env.FACTLAB_FUZZ_SEED ?? 20261122);
/** A hang detector, not a speed claim: inputs here are at most a few hundred kB. */
const MAX_MS_PER_INPUT = 5_000;

/** `scale` shares the budget between properties (cheap ones get more runs, slow ones fewer). */
export function fuzzOptions(scale = 1): fc.Parameters<unknown> {
  return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(FUZZ_RUNS * scale)) };
}

interface TallyRow { inputs: number; loaded: number; codes: Map<string, number>; slowestMs: number }

/** Per-parser counts, printed after each fuzz file for the README's test report. */
export class FuzzTally {
  private readonly rows = new Map<string, TallyRow>();

  /**
   * Runs one parse: returns the result, or undefined when it was refused with a specific
   * FactlabError. Anything else (TypeError, RangeError, a plain Error, a hang) fails the property.
   */
  run<T>(parser: string, parse: () => T): T | undefined {
    const row = this.start(parser);
    const started = performance.now();
    try {
      const result = parse();
      row.loaded++;
      return result;
    } catch (err) {
      return this.refused(row, err);
    } finally {
      this.timed(parser, row, started);
    }
  }

  async runAsync<T>(parser: string, parse: () => Promise<T>): Promise<T | undefined> {
    const row = this.start(parser);
    const started = performance.now();
    try {
      const result = await parse();
      row.loaded++;
      return result;
    } catch (err) {
      return this.refused(row, err);
    } finally {
      this.timed(parser, row, started);
    }
  }

  private start(parser: string): TallyRow {
    const row = this.rows.get(parser) ?? { inputs: 0, loaded: 0, codes: new Map(), slowestMs: 0 };
    this.rows.set(parser, row);
    row.inputs++;
    return row;
  }

  private refused(row: TallyRow, err: unknown): undefined {
    if (!(err instanceof FactlabError)) throw err;
    if (!err.message || err.code === 'internal') throw new Error(`unspecific FactlabError: ${err.code} ${err.message}`);
    row.codes.set(err.code, (row.codes.get(err.code) ?? 0) + 1);
    return undefined;
  }

  private timed(parser: string, row: TallyRow, started: number): void {
    const ms = performance.now() - started;
    row.slowestMs = Math.max(row.slowestMs, ms);
    if (ms > MAX_MS_PER_INPUT) throw new Error(`${parser} took ${ms.toFixed(0)} ms on one input`);
  }

  report(): string {
    return [...this.rows]
      .map(([name, r]) => {
        const codes = [...r.codes].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c}×${n}`).join(', ');
        return `fuzz ${name}: ${r.inputs} inputs, ${r.loaded} loaded, ${r.inputs - r.loaded} refused (${codes}); slowest ${r.slowestMs.toFixed(1)} ms`;
      })
      .join('\n');
  }
}

// ---------------------------------------------------------------- JSON value mutation

/**
 * Stands for `depth` nested arrays until `serializeJson` writes them out: JSON.parse
 * handles 100 000 levels, but JSON.stringify/structuredClone of such a value overflow the
 * stack, and so would copying it around here.
 */
const DEEP_MARK = '@@deep:';

/** JSON text of a (mutated) value, with the deep-nesting markers expanded. */
export function serializeJson(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(/"@@deep:(\d+)@@"/g, (_, n: string) => '['.repeat(Number(n)) + ']'.repeat(Number(n)));
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Values that trip parsers: wrong types, limits, huge and odd numbers, markup, deep nesting. */
const nastyJson: fc.Arbitrary<Json> = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
  fc.constantFrom<Json>(
    null, true, false, 0, -1, 1, 0.5, -0.0, 1e308, -1e308, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 64, 1e21,
    '', ' ', '0', '1e3', 'NaN', 'Infinity', '__proto__', 'constructor', 'toString', '<script>alert(1)</script>',
    '\u0000', '\uFEFF', '\uD800', '[MASK]', '{subject}', 'a,b', '"', '\r\n', 'F32', 'F16', 'BF16', 'U8', 'I64',
    [], {}, [0], [-1], [2 ** 40], [2 ** 20, 2 ** 20], [0, 2 ** 42], [1, 0], [0, 0, 0],
  ),
  fc.integer({ min: 1, max: 100_000 }).map((depth): Json => `${DEEP_MARK}${depth}@@`),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
);

type JsonMutation =
  | { op: 'replace'; at: number; value: Json }
  | { op: 'delete'; at: number }
  | { op: 'insert'; at: number; key: string; value: Json }
  | { op: 'duplicate'; at: number };

export const jsonMutation: fc.Arbitrary<JsonMutation> = fc.oneof(
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value: nastyJson }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', '__metadata__', 'constructor', 'dtype', 'shape', 'data_offsets', 'vocab', 'merges', 'facts', 'relations', 'prompts')), value: nastyJson }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat() }),
);

interface Slot { parent: Json[] | { [key: string]: Json } | null; key: string | number }

function slots(value: Json, parent: Slot['parent'], key: string | number, out: Slot[]): void {
  out.push({ parent, key });
  if (Array.isArray(value)) value.forEach((v, i) => slots(v, value, i, out));
  else if (value && typeof value === 'object') for (const k of Object.keys(value)) slots(value[k], value, k, out);
}

/** Applies mutations to a deep copy of `value` (slot `at` is taken modulo the node count). */
export function mutateJson(value: unknown, mutations: JsonMutation[]): unknown {
  let root = structuredClone(value) as Json;
  for (const m of mutations) {
    const all: Slot[] = [];
    slots(root, null, '', all);
    const { parent, key } = all[m.at % all.length];
    const current: Json = parent === null ? root : (parent as Record<string, Json>)[key as string];
    const set = (v: Json) => {
      if (parent === null) root = v;
      else Object.defineProperty(parent, key, { value: v, enumerable: true, writable: true, configurable: true });
    };
    if (m.op === 'replace') set(structuredClone(m.value));
    else if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else if (parent) delete (parent as Record<string, Json>)[key as string];
    } else if (m.op === 'insert') {
      if (Array.isArray(current)) current.splice(m.at % (current.length + 1), 0, structuredClone(m.value));
      else if (current && typeof current === 'object') Object.defineProperty(current, m.key, { value: structuredClone(m.value), enumerable: true, writable: true, configurable: true });
    } else if (Array.isArray(parent)) parent.splice(key as number, 0, structuredClone(current));
    else set([current, structuredClone(current)]);
  }
  return root;
}

// ---------------------------------------------------------------- byte and line mutation

type ByteMutation =
  | { op: 'set'; at: number; byte: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'truncate'; at: number }
  | { op: 'repeat'; at: number; length: number };

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.oneof(fc.constantFrom(0, 0x7f, 0x80, 0xff, 0x22, 0x2c, 0x0a, 0x7b, 0x5b), fc.nat(255)) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('repeat' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 256 }) }),
);

export function mutateBytes(input: Uint8Array, mutations: ByteMutation[]): Uint8Array {
  let bytes: Uint8Array = input.slice();
  for (const m of mutations) {
    const at = bytes.length ? m.at % (bytes.length + 1) : 0;
    if (m.op === 'set') {
      if (bytes.length) bytes[at % bytes.length] = m.byte;
    } else if (m.op === 'insert') bytes = concat(bytes.subarray(0, at), m.bytes, bytes.subarray(at));
    else if (m.op === 'delete') bytes = concat(bytes.subarray(0, at), bytes.subarray(at + m.length));
    else if (m.op === 'truncate') bytes = bytes.slice(0, at);
    else bytes = concat(bytes.subarray(0, at), bytes.subarray(at, at + m.length), bytes.subarray(at));
  }
  return bytes;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

type LineMutation =
  | { op: 'replace'; at: number; line: string }
  | { op: 'delete'; at: number }
  | { op: 'duplicate'; at: number }
  | { op: 'swap'; at: number; with: number };

const nastyLine = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('', ' ', '  ', 'a', 'a b c', '#version: 0.2', '"', '""', '"a,b"', ',,,', 'a,"b', '"unclosed', '\r', '\uFEFF', '\u0085', 'Ġ Ġ'),
);

export const lineMutation: fc.Arbitrary<LineMutation> = fc.oneof(
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), line: nastyLine }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
);

export function mutateLines(text: string, mutations: LineMutation[]): string {
  const lines = text.split('\n');
  for (const m of mutations) {
    if (lines.length === 0) lines.push('');
    const i = m.at % lines.length;
    if (m.op === 'replace') lines[i] = m.line;
    else if (m.op === 'delete') lines.splice(i, 1);
    else if (m.op === 'duplicate') lines.splice(i, 0, lines[i]);
    else {
      const j = m.with % lines.length;
      [lines[i], lines[j]] = [lines[j], lines[i]];
    }
  }
  return lines.join('\n');
}

/** A safetensors file whose JSON header is `header` (length field correct), followed by `data`. */
export function safetensorsWithHeader(header: unknown, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(serializeJson(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Splits a safetensors file into its header JSON and data bytes (for valid files only). */
export function splitSafetensors(bytes: Uint8Array): { header: unknown; data: Uint8Array } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))), data: bytes.slice(8 + length) };
}
