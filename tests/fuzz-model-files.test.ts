/**
 * Fuzzing of config.json, model source strings, subnetwork mask files and of a whole
 * checkpoint load (selected files → loadCheckpointFiles → Gpt2Engine): every input loads
 * into something consistent or is refused with a FactlabError, and a refused load leaves
 * no tensors behind.
 */
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gpt2Engine } from '../src/core/engine';
import { loadCheckpointFiles } from '../src/core/hub/checkpoint';
import { parseModelSource, sourceId, type FileLike, type ModelSource } from '../src/core/hub/source';
import { gpt2ConfigToJson, parseGpt2Config } from '../src/core/model/config';
import { writeSafetensors } from '../src/core/model/safetensors';
import { maskEntries, type MaskDims } from '../src/core/subnetwork/mask';
import { exportMaskBits, importMask } from '../src/core/subnetwork/mask-io';
import {
  FuzzTally, byteMutation, fuzzOptions, jsonMutation, lineMutation, mutateBytes, mutateJson, mutateLines, safetensorsWithHeader, serializeJson, splitSafetensors,
} from './helpers/fuzz';
import { BYTE_TO_UNICODE } from '../src/core/tokenizers/bpe';
import { makeRandomCheckpoint, smallConfig } from '../scripts/lib/random-checkpoint';
import { TINY_CONFIG } from './helpers/hub-checkpoint';
import { useWasm } from './helpers/tf';

beforeAll(useWasm);
const tally = new FuzzTally();
afterAll(() => console.log(tally.report()));

describe('fuzz: config.json', () => {
  it('mutated configs parse into a usable config or give a FactlabError', () => {
    fc.assert(
      fc.property(fc.array(jsonMutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        const json = JSON.parse(serializeJson(mutateJson(gpt2ConfigToJson(TINY_CONFIG), mutations)));
        const config = tally.run('config.json', () => parseGpt2Config(json));
        if (!config) return;
        for (const key of ['vocabSize', 'nPositions', 'nEmbd', 'nLayer', 'nHead', 'nInner'] as const) {
          expect(Number.isSafeInteger(config[key]) && config[key] > 0).toBe(true);
        }
        expect(config.nEmbd % config.nHead).toBe(0);
        expect(config.eosTokenId).toBeLessThan(config.vocabSize);
        expect(config.layerNormEpsilon).toBeGreaterThan(0);
      }),
      fuzzOptions(),
    );
  });
});

describe('fuzz: model source strings', () => {
  const valid = ['default', 'gpt2', 'openai-community/gpt2@main', `owner/name@${'a'.repeat(40)}`, 'https://example.org/models/tiny', 'https://huggingface.co/gpt2/tree/v1.0', './models/tiny', '/abs/dir', 'hub:gpt2@refs/pr/1', 'url:http://127.0.0.1:8080/m', 'folder:~/m'];
  const charMutation = fc.record({ at: fc.nat(), text: fc.oneof(fc.string({ maxLength: 4 }), fc.constantFrom('@', '/', ':', '..', '//', '%', '%zz', '\\', ' ', '#', '?', 'javascript:', 'file://', '\u0000')), remove: fc.nat(3) });
  const specArb = fc.oneof(
    fc.tuple(fc.constantFrom(...valid), fc.array(charMutation, { maxLength: 3 })).map(([spec, muts]) =>
      muts.reduce((s, m) => { const at = m.at % (s.length + 1); return s.slice(0, at) + m.text + s.slice(at + m.remove); }, spec)),
    fc.string({ maxLength: 60 }),
    fc.string({ unit: 'binary', maxLength: 60 }),
  );

  it('every string parses to a source that its id parses back to, or gives a FactlabError', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const source = tally.run('model source string', () => parseModelSource(spec));
        if (!source) return;
        expect(['default', 'hub', 'url', 'folder']).toContain(source.kind);
        if (source.kind === 'url') expect(source.url).toMatch(/^https?:\/\//);
        // Known limit: the spec is trimmed, so a folder path ending in white space cannot be named.
        if (source.kind === 'folder' && /\s$/.test(source.path)) return;
        const again: ModelSource = parseModelSource(sourceId(source));
        expect(again).toEqual(source);
      }),
      fuzzOptions(10 / 3),
    );
  });
});

describe('fuzz: subnetwork mask files (through the public mask-io API)', () => {
  const dims: MaskDims = { nLayer: 3, nEmbd: 4, nInner: 8 };
  const maskArb = fc.tuple(fc.subarray([0, 1, 2], { minLength: 1 }), fc.nat()).map(([layers, seed]) => {
    const entries = maskEntries(dims, layers);
    const bits = new Map(entries.map((e, k) => [e.name, Uint8Array.from({ length: e.size }, (_, i) => ((i * 7 + seed + k) % 3 === 0 ? 1 : 0))]));
    return { dims, layers, entries, bits };
  });
  const info = { modelId: 'hub:fuzz/tiny@main', seed: 1, step: 10, settings: { lambda: 1 } };

  /** A logits file with the metadata of the bits file (the same layout written with F32 tensors). */
  function logitsFile(bitsFile: Uint8Array, mask: { entries: ReturnType<typeof maskEntries>; bits: Map<string, Uint8Array> }): Uint8Array {
    const { __metadata__: meta } = splitSafetensors(bitsFile).header as { __metadata__: Record<string, string> };
    const { shapes: _shapes, bit_order: _order, bit_meaning: _meaning, ...rest } = meta;
    return writeSafetensors(
      Object.fromEntries(mask.entries.map((e) => [e.name, { shape: e.shape, data: Float32Array.from(mask.bits.get(e.name)!, (b) => (b ? 2 : -2)) }])),
      { ...rest, encoding: 'logits' },
    );
  }

  function checkImported(imported: ReturnType<typeof importMask>): void {
    expect(imported.dims).toEqual(dims);
    for (const e of imported.entries) {
      const bits = imported.binary.bits.get(e.name)!;
      expect(bits.length).toBe(e.size);
      expect(bits.every((b) => b === 0 || b === 1)).toBe(true);
    }
  }

  it('valid bits and logits files import to the same mask', () => {
    fc.assert(
      fc.property(maskArb, (mask) => {
        const file = exportMaskBits(mask, info);
        for (const bytes of [file, logitsFile(file, mask)]) {
          const imported = tally.run('mask file (valid)', () => importMask(bytes, { dims }))!;
          expect(Object.fromEntries(imported.binary.bits)).toEqual(Object.fromEntries(mask.bits));
        }
      }),
      fuzzOptions(1 / 3),
    );
  });

  it('mutated mask files (header structure, metadata, bytes) import consistently or give a FactlabError', () => {
    fc.assert(
      fc.property(maskArb, fc.boolean(), fc.array(jsonMutation, { maxLength: 3 }), fc.array(byteMutation, { maxLength: 2 }), (mask, asLogits, jsonMuts, byteMuts) => {
        const file = exportMaskBits(mask, info);
        const { header, data } = splitSafetensors(asLogits ? logitsFile(file, mask) : file);
        const bytes = mutateBytes(safetensorsWithHeader(mutateJson(header, jsonMuts), data), byteMuts);
        const imported = tally.run('mask file (mutated)', () => importMask(bytes, { dims }));
        if (imported) checkImported(imported);
      }),
      fuzzOptions(),
    );
  });
});

describe('fuzz: whole checkpoint load from selected files', () => {
  const enc = new TextEncoder();
  // A byte-level vocabulary (256 byte symbols, two merges, <|endoftext|>) and a model that fits it.
  const vocab: Record<string, number> = Object.fromEntries(BYTE_TO_UNICODE.map((ch, i) => [ch, i]));
  Object.assign(vocab, { ab: 256, abc: 257, '<|endoftext|>': 258 });
  const config = smallConfig({ vocabSize: 259, eosTokenId: 258, nPositions: 16, nEmbd: 8, nInner: 16 });
  const checkpoint = makeRandomCheckpoint({ config, seed: 3 });
  const validFiles = (): Record<string, Uint8Array> => ({
    'config.json': enc.encode(JSON.stringify(checkpoint.configJson)),
    'vocab.json': enc.encode(JSON.stringify(vocab)),
    'merges.txt': enc.encode('#version: 0.2\na b\nab c\n'),
    'model.safetensors': checkpoint.safetensors,
  });
  const fileMutation = fc.record({
    file: fc.constantFrom('config.json', 'vocab.json', 'merges.txt', 'model.safetensors'),
    json: fc.array(jsonMutation, { maxLength: 2 }),
    lines: fc.array(lineMutation, { maxLength: 2 }),
    bytes: fc.array(byteMutation, { maxLength: 2 }),
    drop: fc.boolean(),
  });

  type FileMutation = typeof fileMutation extends fc.Arbitrary<infer T> ? T : never;

  /** Structure mutations act on parsed values (so deep-nesting markers stay unexpanded), byte mutations on the final bytes. */
  function mutatedFiles(mutations: FileMutation[]): FileLike[] {
    const files = validFiles();
    const dec = new TextDecoder();
    const values: Record<string, unknown> = {
      'config.json': JSON.parse(dec.decode(files['config.json'])),
      'vocab.json': JSON.parse(dec.decode(files['vocab.json'])),
      'model.safetensors': splitSafetensors(files['model.safetensors']),
    };
    let merges = dec.decode(files['merges.txt']);
    const dropped = new Set<string>();
    for (const m of mutations) {
      if (m.drop && m.json.length === 0) dropped.add(m.file);
      else if (m.file === 'merges.txt') merges = mutateLines(merges, m.lines);
      else if (m.file === 'model.safetensors') {
        const st = values[m.file] as ReturnType<typeof splitSafetensors>;
        values[m.file] = { header: mutateJson(st.header, m.json), data: st.data };
      } else values[m.file] = mutateJson(values[m.file], m.json);
    }
    const st = values['model.safetensors'] as ReturnType<typeof splitSafetensors>;
    const bytes: Record<string, Uint8Array> = {
      'config.json': enc.encode(serializeJson(values['config.json'])),
      'vocab.json': enc.encode(serializeJson(values['vocab.json'])),
      'merges.txt': enc.encode(merges),
      'model.safetensors': safetensorsWithHeader(st.header, st.data),
    };
    for (const m of mutations) bytes[m.file] = mutateBytes(bytes[m.file], m.bytes);
    return Object.entries(bytes)
      .filter(([name]) => !dropped.has(name))
      .map(([name, data]) => ({ name, size: data.length, arrayBuffer: async () => data.slice().buffer }));
  }

  it('a mutated checkpoint loads into a working engine or gives a FactlabError, leaking no tensors', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fileMutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const selected = mutatedFiles(mutations);
        const before = tf.memory().numTensors;
        const engine = await tally.runAsync('checkpoint (selected files)', async () => {
          const checkpoint = await loadCheckpointFiles({ kind: 'files', files: selected });
          return Gpt2Engine.fromCheckpoint(checkpoint);
        });
        if (engine) {
          const result = await engine.predict({ prompt: 'abc' });
          expect(result.top.length).toBeGreaterThan(0);
          engine.dispose();
        }
        expect(tf.memory().numTensors).toBe(before);
      }),
      fuzzOptions(2 / 3),
    );
  });
});

describe('config.json and mask files: regressions found by fuzzing', () => {
  it('a nested model_type or activation_function is refused with a FactlabError, not a stack overflow', () => {
    for (const key of ['model_type', 'activation_function']) {
      const json = JSON.parse(serializeJson({ ...gpt2ConfigToJson(TINY_CONFIG), [key]: '@@deep:50000@@' }));
      expect(() => parseGpt2Config(json)).toThrow(expect.objectContaining({ message: expect.stringContaining(`${key} [[[`) }));
    }
  });

  it('a mask file with a nested metadata value or tensor entry is refused with a FactlabError', () => {
    const dims: MaskDims = { nLayer: 1, nEmbd: 4, nInner: 8 };
    const entries = maskEntries(dims, [0]);
    const file = exportMaskBits({ dims, layers: [0], entries, bits: new Map(entries.map((e) => [e.name, new Uint8Array(e.size)])) }, { modelId: 'm' });
    const { header, data } = splitSafetensors(file) as { header: Record<string, Record<string, unknown>>; data: Uint8Array };
    const nestedEntry = safetensorsWithHeader({ ...header, [entries[0].name]: '@@deep:50000@@' }, data);
    expect(() => importMask(nestedEntry, { dims })).toThrow(expect.objectContaining({ code: 'bad-mask-file' }));
    const nestedOffsets = safetensorsWithHeader({ ...header, [entries[0].name]: { ...header[entries[0].name], data_offsets: ['@@deep:50000@@', 1] } }, data);
    expect(() => importMask(nestedOffsets, { dims })).toThrow(expect.objectContaining({ code: 'bad-mask-file' }));
    for (const key of ['model', 'n_layer', 'layers']) {
      const nestedMeta = safetensorsWithHeader({ ...header, __metadata__: { ...header.__metadata__, [key]: '@@deep:50000@@' } }, data);
      expect(() => importMask(nestedMeta, { dims })).toThrow(expect.objectContaining({ code: 'bad-mask-file' }));
    }
    const nestedVersion = safetensorsWithHeader({ ...header, __metadata__: { ...header.__metadata__, version: '@@deep:50000@@' } }, data);
    expect(() => importMask(nestedVersion, { dims })).toThrow(expect.objectContaining({ code: 'bad-mask-file' }));
  });

  it('a checkpoint whose config.json has a nested model_type is refused with a FactlabError', async () => {
    const selected = [{ name: 'config.json', text: serializeJson({ ...gpt2ConfigToJson(TINY_CONFIG), model_type: '@@deep:50000@@' }) }].map(({ name, text }) => {
      const bytes = new TextEncoder().encode(text);
      return { name, size: bytes.length, arrayBuffer: async () => bytes.buffer };
    });
    await expect(loadCheckpointFiles({ kind: 'files', files: selected })).rejects.toThrow(expect.objectContaining({ code: 'missing-tokenizer' }));
  });
});
