/**
 * Fuzzing of the fact-file importers (JSON fact sets, flat JSON lists, CSV). Seeds are
 * slices of the default fact set; mutations are structure-aware on the JSON, line- and
 * byte-level on the CSV. A file either imports into a set that passes validateFactSet and
 * survives export → import unchanged, or is refused with a FactlabError.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FactlabError } from '../src/core/errors';
import { exportFacts } from '../src/core/facts/export';
import { importFacts, importFactsCsv, importFactsJson } from '../src/core/facts/io';
import type { FactSet } from '../src/core/facts/types';
import { validateFactSet } from '../src/core/facts/validate';
import {
  FuzzTally, byteMutation, fuzzOptions, jsonMutation, lineMutation, mutateBytes, mutateJson, mutateLines, serializeJson,
} from './helpers/fuzz';

const tally = new FuzzTally();
afterAll(() => console.log(tally.report()));

const DEFAULT_SET = importFactsJson(readFileSync('public/models/default/facts.json'));

/** A small valid set: a few relations of the default set and a few facts of each. */
const seedArb: fc.Arbitrary<FactSet> = fc
  .tuple(fc.subarray(DEFAULT_SET.relations, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 4 }), fc.nat())
  .map(([relations, perRelation, offset]) => ({
    ...DEFAULT_SET,
    relations,
    facts: relations.flatMap((r) => {
      const own = DEFAULT_SET.facts.filter((f) => f.relation === r.id);
      return own.slice(offset % own.length, (offset % own.length) + perRelation);
    }),
  }));

/** Export in a format, import again: the same set (exporting may refuse with a FactlabError). */
function checkRoundTrip(set: FactSet, format: 'json' | 'flat-json' | 'csv'): void {
  let text: string;
  try {
    text = exportFacts(set, format, { expandPrompts: format !== 'json' });
  } catch (err) {
    if (err instanceof FactlabError) return;
    throw err;
  }
  const again = importFacts(text, { format: format === 'csv' ? 'csv' : 'json', relations: format === 'json' ? [] : set.relations });
  if (format === 'json') expect(again).toEqual(set);
  else expect(again.facts.map((f) => [f.id, f.subject, f.relation, f.object])).toEqual(set.facts.map((f) => [f.id, f.subject, f.relation, f.object]));
}

function checkImported(set: FactSet): void {
  expect(() => validateFactSet(set)).not.toThrow();
  checkRoundTrip(set, 'json');
  checkRoundTrip(set, 'flat-json');
  checkRoundTrip(set, 'csv');
}

describe('fuzz: fact files', () => {
  it('valid sets in every format import back to the same facts', () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const imported = tally.run('facts JSON (valid)', () => importFactsJson(exportFacts(seed, 'json')))!;
        expect(imported).toEqual(seed);
        checkImported(imported);
      }),
      fuzzOptions(1 / 3),
    );
  });

  it('mutated JSON fact sets and flat lists (structure-aware) import validly or give a FactlabError', () => {
    fc.assert(
      fc.property(seedArb, fc.boolean(), fc.array(jsonMutation, { minLength: 1, maxLength: 4 }), (seed, flat, mutations) => {
        const value = flat ? JSON.parse(exportFacts(seed, 'flat-json')) : JSON.parse(exportFacts(seed, 'json'));
        const text = serializeJson(mutateJson(value, mutations));
        const set = tally.run('facts JSON (structure mutations)', () => importFactsJson(text, { relations: seed.relations }));
        if (set) checkImported(set);
      }),
      fuzzOptions(),
    );
  });

  it('mutated CSV files (lines and bytes) import validly or give a FactlabError', () => {
    fc.assert(
      fc.property(seedArb, fc.array(lineMutation, { maxLength: 3 }), fc.array(byteMutation, { maxLength: 3 }), (seed, lineMuts, byteMuts) => {
        const csv = mutateLines(exportFacts(seed, 'csv', { expandPrompts: true }), lineMuts);
        const bytes = mutateBytes(new TextEncoder().encode(csv), byteMuts);
        const set = tally.run('facts CSV (line and byte mutations)', () => importFactsCsv(bytes, { relations: seed.relations }));
        if (set) checkImported(set);
      }),
      fuzzOptions(),
    );
  });

  it('random text in either format is imported validly or refused', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 })), (text) => {
        const set = tally.run('facts (random text)', () => importFacts(text));
        if (set) checkImported(set);
      }),
      fuzzOptions(),
    );
  });
});

describe('fact files: regressions found by fuzzing', () => {
  it('a nested heldOutPerFact is refused with a FactlabError, not a stack overflow in the message', () => {
    const set = JSON.parse(exportFacts({ ...DEFAULT_SET, relations: DEFAULT_SET.relations.slice(0, 1), facts: DEFAULT_SET.facts.slice(0, 1) }, 'json'));
    set.relations[0].heldOutPerFact = '@@deep:50000@@';
    expect(() => importFactsJson(serializeJson(set))).toThrow(expect.objectContaining({ code: 'facts-bad-field', message: expect.stringContaining('heldOutPerFact') }));
  });

  it('a subject containing [MASK] is refused: it would make every masked template ambiguous', () => {
    const flat = [{ subject: '[MASK]', relation: DEFAULT_SET.relations[0].id, object: 'x' }];
    expect(() => importFactsJson(JSON.stringify(flat), { relations: DEFAULT_SET.relations })).toThrow(expect.objectContaining({ code: 'facts-bad-field' }));
  });
});
