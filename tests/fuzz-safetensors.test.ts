/**
 * Fuzzing of the safetensors reader: valid files round-trip; mutated headers, length fields
 * and bytes either parse into consistent tensors or are refused with a FactlabError.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FactlabError } from '../src/core/errors';
import { parseSafetensors, writeSafetensors, type SafetensorsDtype, type TensorToWrite } from '../src/core/model/safetensors';
import {
  FuzzTally, byteMutation, fuzzOptions, jsonMutation, mutateBytes, mutateJson, safetensorsWithHeader, splitSafetensors,
} from './helpers/fuzz';

const tally = new FuzzTally();
afterAll(() => console.log(tally.report()));

const tensorArb: fc.Arbitrary<TensorToWrite> = fc
  .tuple(fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }), fc.constantFrom<SafetensorsDtype>('F32', 'F16', 'BF16'))
  .chain(([shape, dtype]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return fc.array(fc.float({ noNaN: true, min: -1e4, max: 1e4 }), { minLength: n, maxLength: n }).map((values) => ({ shape, dtype, data: Float32Array.from(values) }));
  });

const fileArb = fc.tuple(
  fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).filter((k) => k !== '__metadata__'), tensorArb, { maxKeys: 4 }),
  fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }), { nil: undefined }),
);

/** What a successful parse must satisfy, whatever the input. */
function checkConsistent(bytes: Uint8Array, parsed: ReturnType<typeof parseSafetensors>): void {
  let total = 0;
  for (const t of parsed.tensors.values()) {
    expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
    total += t.data.length * (t.dtype === 'F32' ? 4 : 2);
  }
  expect(total).toBeLessThanOrEqual(bytes.length);
  for (const v of Object.values(parsed.metadata)) expect(typeof v).toBe('string');
}

describe('fuzz: safetensors', () => {
  it('valid files written by writeSafetensors parse back to the same tensors', () => {
    fc.assert(
      fc.property(fileArb, ([tensors, metadata]) => {
        const bytes = writeSafetensors(tensors, metadata);
        const parsed = tally.run('safetensors (valid)', () => parseSafetensors(bytes))!;
        expect([...parsed.tensors.keys()].sort()).toEqual(Object.keys(tensors).sort());
        for (const [name, t] of Object.entries(tensors)) {
          expect(parsed.tensors.get(name)!.shape).toEqual(t.shape);
          if ((t.dtype ?? 'F32') === 'F32') expect(parsed.tensors.get(name)!.data).toEqual(t.data);
        }
        expect(parsed.metadata).toEqual(metadata ?? {});
      }),
      fuzzOptions(),
    );
  });

  it('mutated headers (structure-aware) parse consistently or give a FactlabError', () => {
    fc.assert(
      fc.property(fileArb, fc.array(jsonMutation, { minLength: 1, maxLength: 4 }), ([tensors, metadata], mutations) => {
        const { header, data } = splitSafetensors(writeSafetensors(tensors, metadata));
        const bytes = safetensorsWithHeader(mutateJson(header, mutations), data);
        const parsed = tally.run('safetensors (header mutations)', () => parseSafetensors(bytes));
        if (parsed) checkConsistent(bytes, parsed);
      }),
      fuzzOptions(),
    );
  });

  it('mutated bytes and length fields parse consistently or give a FactlabError', () => {
    const lengthField = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 1n, 2n ** 40n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n));
    fc.assert(
      fc.property(fileArb, fc.array(byteMutation, { maxLength: 5 }), fc.option(lengthField, { nil: undefined }), ([tensors, metadata], mutations, length) => {
        const bytes = mutateBytes(writeSafetensors(tensors, metadata), mutations);
        if (length !== undefined && bytes.length >= 8) new DataView(bytes.buffer).setBigUint64(0, length, true);
        const parsed = tally.run('safetensors (byte mutations)', () => parseSafetensors(bytes));
        if (parsed) checkConsistent(bytes, parsed);
      }),
      fuzzOptions(),
    );
  });

  it('a header claiming terabytes is refused without allocating them', () => {
    const claims = [
      // the length field itself
      (() => { const b = new Uint8Array(16); new DataView(b.buffer).setBigUint64(0, 2n ** 40n, true); return b; })(),
      // a tensor whose shape and offsets claim 4 TiB
      safetensorsWithHeader({ w: { dtype: 'F32', shape: [2 ** 20, 2 ** 20], data_offsets: [0, 2 ** 42] } }, new Uint8Array(8)),
      // shape and offsets that only agree after overflow
      safetensorsWithHeader({ w: { dtype: 'F16', shape: [2 ** 26, 2 ** 26, 2 ** 26], data_offsets: [0, 8] } }, new Uint8Array(8)),
    ];
    const before = process.memoryUsage().arrayBuffers;
    for (const bytes of claims) expect(() => parseSafetensors(bytes)).toThrow(FactlabError);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });
});

describe('safetensors: regressions found by fuzzing', () => {
  it('an empty tensor may share its offset with a neighbour (as the Python writer does)', () => {
    const bytes = writeSafetensors({ ' ': { shape: [0], data: new Float32Array(0) }, '0': { shape: [], data: Float32Array.of(0) } });
    expect([...parseSafetensors(bytes).tensors.keys()].sort()).toEqual([' ', '0']);
  });

  it('a deeply nested shape is refused with a FactlabError, not a stack overflow', () => {
    const deep = '['.repeat(50_000) + ']'.repeat(50_000);
    const bytes = safetensorsWithHeader({ w: { dtype: 'F32', shape: '@@deep:50000@@', data_offsets: [0, 4] } }, new Uint8Array(4));
    expect(new TextDecoder().decode(bytes)).toContain(deep);
    expect(() => parseSafetensors(bytes)).toThrow(/invalid shape \[\[\[/);
  });

  it('a dtype naming an Object.prototype member is an unsupported dtype', () => {
    const bytes = safetensorsWithHeader({ w: { dtype: 'toString', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4));
    expect(() => parseSafetensors(bytes)).toThrow(expect.objectContaining({ code: 'unsupported-dtype' }));
  });

  it('metadata values must be strings (a nested array is refused, not stringified into a stack overflow)', () => {
    const bytes = safetensorsWithHeader({ __metadata__: { a: '@@deep:50000@@' } }, new Uint8Array(0));
    expect(() => parseSafetensors(bytes)).toThrow(/__metadata__ "a" is \[\[/);
    expect(parseSafetensors(safetensorsWithHeader({ __metadata__: { format: 'pt' } }, new Uint8Array(0))).metadata).toEqual({ format: 'pt' });
  });
});
