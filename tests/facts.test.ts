import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FactlabError } from '../src/core/errors';
import {
  heldOutIndices,
  FACT_LIMITS,
  MASK_TOKEN,
  countMasks,
  createFact,
  exportFactSetJson,
  exportFacts,
  exportFactsCsv,
  exportFlatJson,
  factIdFor,
  factPrompts,
  formatCsv,
  importFacts,
  importFactsCsv,
  importFactsJson,
  normalizeSubject,
  parseCsv,
  promptsFor,
  targetFor,
  validateFactSet,
  type Fact,
  type FactSet,
  type Relation,
} from '../src/core/facts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FACTS_PATH = join(ROOT, 'public/models/default/facts.json');
const FACTS_TEXT = readFileSync(FACTS_PATH, 'utf8');
const shipped: FactSet = importFactsJson(FACTS_TEXT);
const relationsById = new Map(shipped.relations.map((r) => [r.id, r]));

/** Runs `fn` and returns the FactlabError it throws. */
function factError(fn: () => unknown): FactlabError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FactlabError) return err;
    throw err;
  }
  throw new Error('expected a FactlabError, nothing was thrown');
}

function expectError(fn: () => unknown, code: string, message: RegExp): void {
  const err = factError(fn);
  expect(err.code).toBe(code);
  expect(err.message).toMatch(message);
}

const csv = (...lines: string[]) => lines.join('\r\n') + '\r\n';

// ---------------------------------------------------------------- the shipped fact set

describe('shipped default facts (public/models/default/facts.json)', () => {
  it('is small and validates', () => {
    expect(statSync(FACTS_PATH).size).toBeLessThan(1024 * 1024);
    const raw = JSON.parse(FACTS_TEXT) as FactSet;
    expect(() => validateFactSet(raw)).not.toThrow();
    expect(shipped.facts.length).toBe(raw.facts.length);
  });

  it('has at least 1,500 facts in at least 6 relations, PARAREL-style templates in each', () => {
    expect(shipped.facts.length).toBeGreaterThanOrEqual(1500);
    expect(shipped.relations.length).toBeGreaterThanOrEqual(6);
    for (const r of shipped.relations) {
      expect(r.templates.length, r.id).toBeGreaterThanOrEqual(5);
      expect(r.maskedTemplates.length, r.id).toBeGreaterThanOrEqual(3);
      const heldOut = r.heldOutPerFact ?? r.heldOutTemplates.length;
      expect(heldOut, r.id).toBeGreaterThanOrEqual(1);
      expect(heldOut, r.id).toBeLessThan(r.templates.length);
      expect(new Set(r.templates).size, r.id).toBe(r.templates.length);
      expect(shipped.facts.filter((f) => f.relation === r.id).length, r.id).toBeGreaterThanOrEqual(50);
    }
  });

  it('has unique, stable ids derived from relation and subject', () => {
    const ids = shipped.facts.map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const f of shipped.facts) expect(f.id).toBe(factIdFor(f.relation, f.subject));
    expect(shipped.facts.find((f) => f.id === 'capital_of/france')?.object).toBe('Paris');
    expect(shipped.facts.find((f) => f.id === 'country_of/lyon')?.object).toBe('France');
    expect(shipped.facts.find((f) => f.id === 'hypernym_of/piano')?.object).toBe('keyboard instrument');
    // Ids do not depend on the order of the records.
    const flat = JSON.parse(exportFlatJson(shipped)) as { id?: string }[];
    const reversed = flat.reverse().map(({ id: _id, ...rest }) => rest);
    const again = importFactsJson(JSON.stringify(reversed), { relations: shipped.relations });
    expect(new Map(again.facts.map((f) => [f.id, f.object]))).toEqual(new Map(shipped.facts.map((f) => [f.id, f.object])));
  });

  it('has short objects, no ambiguous subjects and no subject/object giveaways', () => {
    for (const r of shipped.relations) {
      const subjects = shipped.facts.filter((f) => f.relation === r.id).map((f) => normalizeSubject(f.subject));
      expect(new Set(subjects).size, r.id).toBe(subjects.length);
    }
    for (const f of shipped.facts) {
      expect(f.object.split(' ').length, f.id).toBeLessThanOrEqual(2);
      const fold = (s: string) => s.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase();
      expect(fold(f.object).includes(fold(f.subject.replace(/^the /, ''))), f.id).toBe(false);
      expect(fold(f.subject).split(/[^\p{L}]+/u).includes(fold(f.object)), f.id).toBe(false);
    }
  });

  it('expands every fact into prompts that contain the subject; masked prompts hold one [MASK]', () => {
    let causal = 0;
    for (const f of shipped.facts) {
      const r = relationsById.get(f.relation)!;
      const all = promptsFor(f, r, { split: 'all' });
      const train = promptsFor(f, r, { split: 'train' });
      const heldout = promptsFor(f, r, { split: 'heldout' });
      expect(all.length).toBe(r.templates.length);
      expect(train.length + heldout.length).toBe(all.length);
      expect(heldout.length).toBeGreaterThanOrEqual(1);
      for (const p of all) {
        expect(p.includes(f.subject), p).toBe(true);
        expect(p).not.toMatch(/\s$/);
        expect(p).not.toContain(MASK_TOKEN);
        expect(p).not.toContain('{subject}');
        causal++;
      }
      const masked = promptsFor(f, r, { masked: true });
      expect(masked.length).toBeGreaterThanOrEqual(3);
      for (const p of masked) {
        expect(p.includes(f.subject), p).toBe(true);
        expect(countMasks(p), p).toBe(1);
      }
    }
    expect(causal).toBeGreaterThanOrEqual(1500 * 5);
  });

  it('is reproduced byte for byte by scripts/build-facts.ts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'factlab-facts-'));
    try {
      const out = join(dir, 'facts.json');
      execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/build-facts.ts'), '--out', out], { cwd: ROOT, stdio: 'pipe' });
      expect(readFileSync(out, 'utf8')).toBe(FACTS_TEXT);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('general text corpus (data/corpus)', () => {
  const train = readFileSync(join(ROOT, 'data/corpus/train.txt'), 'utf8');
  const valid = readFileSync(join(ROOT, 'data/corpus/valid.txt'), 'utf8');

  it('is clean, deduplicated UTF-8 text, one sentence per line, split train/valid', () => {
    const t = train.trimEnd().split('\n');
    const v = valid.trimEnd().split('\n');
    expect(Buffer.byteLength(train) + Buffer.byteLength(valid)).toBeGreaterThan(1_000_000);
    expect(Buffer.byteLength(train) + Buffer.byteLength(valid)).toBeLessThan(5 * 1024 * 1024);
    expect(v.length / (t.length + v.length)).toBeGreaterThan(0.03);
    expect(v.length / (t.length + v.length)).toBeLessThan(0.07);
    const all = [...t, ...v];
    expect(new Set(all).size).toBe(all.length);
    for (const line of all) {
      expect(line).not.toContain('_');
      expect(line).not.toContain('`');
      expect((line.match(/"/g)?.length ?? 0) % 2, line).toBe(0);
      expect(line.split(' ').length).toBeGreaterThanOrEqual(3);
      expect(line).toBe(line.trim());
    }
  });

  it('is reproduced byte for byte by scripts/build-corpus.ts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'factlab-corpus-'));
    try {
      execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/build-corpus.ts'), '--out', dir], { cwd: ROOT, stdio: 'pipe' });
      expect(readFileSync(join(dir, 'train.txt'), 'utf8')).toBe(train);
      expect(readFileSync(join(dir, 'valid.txt'), 'utf8')).toBe(valid);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------- prompts

describe('prompts and targets', () => {
  const capital = relationsById.get('capital_of')!;
  const france = shipped.facts.find((f) => f.id === 'capital_of/france')!;

  it('fills templates per split and gives the target with a leading space', () => {
    const all = promptsFor(france, capital, { split: 'all' });
    expect(all[0]).toBe('The capital of France is');
    expect(all).toHaveLength(capital.templates.length);
    const heldOut = promptsFor(france, capital, { split: 'heldout' });
    expect(heldOut).toEqual(heldOutIndices(capital, france.id).map((i) => capital.templates[i].replace('{subject}', 'France')));
    expect(heldOut).toHaveLength(2);
    expect([...promptsFor(france, capital, { split: 'train' }), ...heldOut].sort()).toEqual([...all].sort());
    // Rotation: every template is held out for some facts and trained with others.
    const capitals = shipped.facts.filter((f) => f.relation === 'capital_of');
    for (let i = 0; i < capital.templates.length; i++) {
      const heldFor = capitals.filter((f) => heldOutIndices(capital, f.id).includes(i)).length;
      expect(heldFor).toBeGreaterThan(0);
      expect(heldFor).toBeLessThan(capitals.length);
    }
    expect(promptsFor(france, capital, { masked: true })[0]).toBe('The capital of France is [MASK].');
    expect(promptsFor(france, capital, { masked: true, split: 'heldout' })).toEqual([]);
    expect(targetFor(france)).toBe(' Paris');
    expect(targetFor(france, { masked: true })).toBe('Paris');
    expect(factPrompts(shipped, france)).toEqual(promptsFor(france, capital));
  });

  it('uses a fact’s own prompts instead of the templates, and substitutes `$` literally', () => {
    const fact: Fact = { id: 'x', relation: 'capital_of', subject: 'A$&B', object: 'Y', prompts: ['A$&B has the capital'] };
    expect(promptsFor(fact, capital, { split: 'train' })).toEqual(['A$&B has the capital']);
    expect(promptsFor(fact, capital, { split: 'heldout' })).toEqual([]);
    expect(promptsFor(fact, capital, { masked: true })[0]).toBe('The capital of A$&B is [MASK].');
  });

  it('normalises subjects for ids', () => {
    expect(normalizeSubject('São Tomé')).toBe('sao-tome');
    expect(normalizeSubject('  the United States ')).toBe('the-united-states');
    expect(factIdFor('capital_of', 'France')).toBe('capital_of/france');
    expect(normalizeSubject('東京')).toBe('東京');
    expect(normalizeSubject('???')).toBe('3f-3f-3f');
  });
});

// ---------------------------------------------------------------- round trips

const customSet: FactSet = {
  name: 'custom',
  version: '2',
  relations: [
    {
      id: 'born_in',
      name: 'born in',
      description: 'Birthplace',
      templates: ['{subject} was born in', 'The birthplace of {subject} is'],
      maskedTemplates: ['{subject} was born in [MASK].'],
      heldOutTemplates: [1],
    },
  ],
  facts: [
    { id: 'born_in/marie-curie', relation: 'born_in', subject: 'Marie Curie', object: 'Warsaw' },
    {
      id: 'born_in/o-brien-jr',
      relation: 'born_in',
      subject: 'O\'Brien, "Jr."',
      object: 'Cork, Ireland',
      prompts: ['O\'Brien, "Jr." was born,\nas everyone knows, in'],
      maskedPrompts: ['O\'Brien, "Jr." was born in [MASK].'],
    },
    { id: 'my-own-id', relation: 'born_in', subject: 'Ada Lovelace', object: 'London' },
  ],
};

describe('JSON and CSV round trips', () => {
  it('fact-set JSON: export → import gives the same set', () => {
    expect(importFactsJson(exportFactSetJson(shipped))).toEqual(shipped);
    expect(exportFactSetJson(shipped)).toBe(FACTS_TEXT);
    expect(importFactsJson(exportFactSetJson(customSet))).toEqual(customSet);
  });

  it('flat JSON: export → import with the relations gives the same facts', () => {
    const again = importFactsJson(exportFlatJson(shipped), { relations: shipped.relations });
    expect(again.facts).toEqual(shipped.facts);
    expect(again.relations).toEqual(shipped.relations);
    expect(importFactsJson(exportFlatJson(customSet), { relations: customSet.relations }).facts).toEqual(customSet.facts);
  });

  it('CSV: export → import gives the same facts (quotes, commas, newlines, custom ids)', () => {
    const text = exportFactsCsv(customSet);
    expect(text.split('\r\n')[0]).toBe('subject,relation,object,prompts,id');
    expect(importFactsCsv(text, { relations: customSet.relations }).facts).toEqual(customSet.facts);
    const shippedCsv = exportFactsCsv(shipped);
    expect(shippedCsv.split('\r\n')[0]).toBe('subject,relation,object,prompts');
    expect(importFactsCsv(shippedCsv, { relations: shipped.relations }).facts).toEqual(shipped.facts);
    expect(importFacts(new TextEncoder().encode(shippedCsv), { fileName: 'facts.csv', relations: shipped.relations }).facts).toEqual(shipped.facts);
  });

  it('expanded exports need no relation definitions to be imported again', () => {
    for (const format of ['flat-json', 'csv'] as const) {
      const again = importFacts(exportFacts(customSet, format, { expandPrompts: true }));
      expect(again.facts.map((f) => [f.id, f.subject, f.object])).toEqual(customSet.facts.map((f) => [f.id, f.subject, f.object]));
      const marie = again.facts[0];
      expect(marie.prompts).toEqual(['Marie Curie was born in', 'The birthplace of Marie Curie is']);
      expect(marie.maskedPrompts).toEqual(['Marie Curie was born in [MASK].']);
      expect(again.relations[0].templates).toEqual([]);
    }
  });

  it('sniffs the format', () => {
    const json = exportFactSetJson(customSet);
    expect(importFacts(`\uFEFF  ${json}`)).toEqual(customSet);
    expect(importFacts(new TextEncoder().encode(exportFactsCsv(customSet)), { relations: customSet.relations }).facts).toEqual(customSet.facts);
  });
});

// ---------------------------------------------------------------- user facts

describe('user-supplied facts', () => {
  it('accepts custom relations with explicit causal and masked prompts', () => {
    const set = importFactsCsv(
      csv(
        'subject,relation,object,prompts',
        'Marie Curie,born_in,Warsaw,Marie Curie was born in | The birthplace of Marie Curie is | Marie Curie was born in [MASK].',
        'France,capital_of,Paris,',
      ),
      { relations: shipped.relations },
    );
    expect(set.relations.map((r) => r.id)).toEqual(['capital_of', 'born_in']);
    const [curie, france] = set.facts;
    expect(curie).toEqual({
      id: 'born_in/marie-curie',
      relation: 'born_in',
      subject: 'Marie Curie',
      object: 'Warsaw',
      prompts: ['Marie Curie was born in', 'The birthplace of Marie Curie is'],
      maskedPrompts: ['Marie Curie was born in [MASK].'],
    });
    expect(france).toEqual({ id: 'capital_of/france', relation: 'capital_of', subject: 'France', object: 'Paris' });
    expect(factPrompts(set, curie, { split: 'train' })).toHaveLength(2);
    expect(factPrompts(set, france, { split: 'train' })[0]).toBe('The capital of France is');
    expect(() => validateFactSet(set)).not.toThrow();
  });

  it('accepts a flat JSON list with ids and prompts, trimming fields', () => {
    const set = importFactsJson(JSON.stringify([{ id: ' a1 ', subject: ' Paris ', relation: 'twin', object: ' Rome ', prompts: ['Paris is twinned with'] }]));
    expect(set.facts).toEqual([{ id: 'a1', relation: 'twin', subject: 'Paris', object: 'Rome', prompts: ['Paris is twinned with'] }]);
    expect(set.relations[0]).toMatchObject({ id: 'twin', templates: [], heldOutTemplates: [] });
  });
});

// ---------------------------------------------------------------- CSV syntax

describe('CSV (RFC 4180)', () => {
  it('parses quoted fields with commas, doubled quotes and line breaks', () => {
    const recs = parseCsv('a,"b,c","d""e","f\r\ng",\r\nx,,"",z\n"last"');
    expect(recs.map((r) => r.fields)).toEqual([
      ['a', 'b,c', 'd"e', 'f\r\ng', ''],
      ['x', '', '', 'z'],
      ['last'],
    ]);
    expect(recs.map((r) => [r.row, r.line])).toEqual([
      [1, 1],
      [2, 3],
      [3, 4],
    ]);
  });

  it('accepts LF, CRLF and CR line ends, a BOM, and a missing final line break', () => {
    expect(parseCsv('\uFEFFa,b\nc,d').map((r) => r.fields)).toEqual([['a', 'b'], ['c', 'd']]);
    expect(parseCsv('a,b\rc,d\r').map((r) => r.fields)).toEqual([['a', 'b'], ['c', 'd']]);
    expect(parseCsv('a,b\r\n\r\nc,d\r\n').map((r) => r.fields)).toEqual([['a', 'b'], [''], ['c', 'd']]);
  });

  it('quotes only when needed on output', () => {
    expect(formatCsv([['plain', 'a,b', 'say "hi"', 'two\nlines', ' padded', '']])).toBe('plain,"a,b","say ""hi""","two\nlines"," padded",\r\n');
  });

  it('formatCsv → parseCsv is the identity', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }).chain((w) => fc.array(fc.array(fc.string({ unit: fc.constantFrom('a', 'b', ' ', ',', '"', '\n', '\r', 'é', '|') }), { minLength: w, maxLength: w }), { minLength: 1, maxLength: 5 })),
        (rows) => {
          expect(parseCsv(formatCsv(rows)).map((r) => r.fields)).toEqual(rows);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reports malformed quoting with the row', () => {
    expectError(() => parseCsv('a,b\nc,"d\ne'), 'facts-bad-csv', /^CSV row 2: a quoted field opened on line 2 is never closed/);
    expectError(() => parseCsv('a,b\nc,d"e'), 'facts-bad-csv', /^CSV row 2, field 2: a double quote inside an unquoted field/);
    expectError(() => parseCsv('a,b\n"c"x,d'), 'facts-bad-csv', /^CSV row 2, field 1: unexpected text after a closing quote/);
    expectError(() => parseCsv('"a\nb",c\nd,"e'), 'facts-bad-csv', /^CSV row 2 \(line 3\): a quoted field/);
  });
});

// ---------------------------------------------------------------- bad input

describe('bad input gives a specific error naming the row or record', () => {
  const relations = shipped.relations;

  it('missing fields', () => {
    expectError(() => importFactsCsv(csv('subject,relation,prompts', 'France,capital_of,')), 'facts-missing-field', /CSV row 1: the header must name the columns subject, relation and object.*missing: object/);
    expectError(() => importFactsJson(JSON.stringify([{ subject: 'France', relation: 'capital_of', object: 'Paris' }, { subject: 'Peru', relation: 'capital_of' }]), { relations }), 'facts-missing-field', /^Record 2: the field "object" is missing\./);
    expectError(() => importFactsJson(JSON.stringify({ relations: [], facts: [{ relation: 'r', object: 'o', prompts: ['x'] }] })), 'facts-missing-field', /^Fact 1: the field "subject" is missing\./);
  });

  it('empty strings', () => {
    expectError(() => importFactsCsv(csv('subject,relation,object', 'France,capital_of,Paris', 'Peru,capital_of,  '), { relations }), 'facts-empty-field', /^CSV row 3: the field "object" is empty\./);
    expectError(() => importFactsCsv(csv('subject,relation,object,prompts', 'X,r,Y,X is | | X was'), { relations }), 'facts-empty-field', /^CSV row 2: prompt 2 in the prompts column is empty\./);
    expectError(() => importFactsJson(JSON.stringify([{ subject: '', relation: 'capital_of', object: 'Paris' }]), { relations }), 'facts-empty-field', /^Record 1: the field "subject" is empty\./);
  });

  it('wrong field types and counts', () => {
    expectError(() => importFactsJson(JSON.stringify([{ subject: 3, relation: 'capital_of', object: 'Paris' }])), 'facts-bad-field', /^Record 1: the field "subject" must be text\./);
    expectError(() => importFactsJson(JSON.stringify([{ subject: 'X', relation: 'r', object: 'Y', prompts: [1] }])), 'facts-bad-field', /^Record 1: "prompts" must be a list of strings\./);
    expectError(() => importFactsCsv(csv('subject,relation,object', 'France,capital_of,Paris', 'Peru,capital_of,Lima,extra'), { relations }), 'facts-bad-csv', /^CSV row 3 has 4 fields but the header has 3\./);
  });

  it('duplicate ids', () => {
    expectError(
      () => importFactsCsv(csv('subject,relation,object', 'France,capital_of,Paris', 'Peru,capital_of,Lima', 'france,capital_of,Lyon'), { relations }),
      'facts-duplicate-id',
      /^CSV row 4: duplicate fact id "capital_of\/france" \(first used in CSV row 2\)/,
    );
    expectError(
      () => importFactsJson(JSON.stringify([{ id: 'a', subject: 'X', relation: 'capital_of', object: 'Y' }, { id: 'a', subject: 'Z', relation: 'capital_of', object: 'W' }]), { relations }),
      'facts-duplicate-id',
      /^Record 2: duplicate fact id "a" \(first used in Record 1\)/,
    );
    const dup: FactSet = { ...customSet, facts: [customSet.facts[0], { ...customSet.facts[2], id: customSet.facts[0].id }] };
    expectError(() => validateFactSet(dup), 'facts-duplicate-id', /^Fact 2 \("born_in\/marie-curie"\): duplicate fact id/);
  });

  it('unknown relation with no templates and no prompts', () => {
    expectError(
      () => importFactsCsv(csv('subject,relation,object,prompts', 'France,capital_of,Paris,', 'Marie Curie,born_in,Warsaw,'), { relations }),
      'facts-unknown-relation',
      /^CSV row 3: unknown relation "born_in" and no prompts given\..*capital_of/,
    );
    expectError(() => importFactsJson(JSON.stringify([{ subject: 'France', relation: 'capital_of', object: 'Paris' }])), 'facts-unknown-relation', /^Record 1: unknown relation "capital_of"/);
    const noTemplates = { relations: [{ id: 'r', templates: [] }], facts: [{ subject: 'X', relation: 'r', object: 'Y' }] };
    expectError(() => importFactsJson(JSON.stringify(noTemplates)), 'facts-no-prompts', /^Fact 1: the relation "r" has no templates and no prompts are given\./);
  });

  it('a prompt that does not contain the subject', () => {
    expectError(
      () => importFactsCsv(csv('subject,relation,object,prompts', 'France,capital_of,Paris,', 'Marie Curie,born_in,Warsaw,Marie Curie was born in | She was born in'), { relations }),
      'facts-prompt-without-subject',
      /^CSV row 3: prompt 2 \("She was born in"\) does not contain the subject "Marie Curie"\./,
    );
    expectError(
      () => importFactsJson(JSON.stringify([{ subject: 'X', relation: 'r', object: 'Y', prompts: ['[MASK] is what Z is.'] }])),
      'facts-prompt-without-subject',
      /^Record 1: masked prompt 1 .* does not contain the subject "X"/,
    );
  });

  it('a masked prompt without exactly one [MASK]', () => {
    expectError(
      () => importFactsCsv(csv('subject,relation,object,prompts', 'France,capital_of,Paris,', 'Curie,born_in,Warsaw,Curie was born in [MASK] in [MASK].'), { relations }),
      'facts-bad-mask',
      /^CSV row 3: masked prompt 1 .* must contain exactly one \[MASK\]; it has 2\./,
    );
    const set = { relations: [], facts: [{ subject: 'Curie', relation: 'born_in', object: 'Warsaw', maskedPrompts: ['Curie was born in Warsaw.'] }] };
    expectError(() => importFactsJson(JSON.stringify(set)), 'facts-bad-mask', /^Fact 1: masked prompt 1 .* it has 0\./);
    const badTemplate = { relations: [{ id: 'r', templates: ['{subject} is'], maskedTemplates: ['{subject} is.'] }], facts: [] };
    expectError(() => importFactsJson(JSON.stringify(badTemplate)), 'facts-bad-mask', /^Relation 1 \("r"\): masked template 1 .* it has 0\./);
  });

  it('causal prompts and templates that do not end where the object begins', () => {
    expectError(
      () => importFactsJson(JSON.stringify([{ subject: 'X', relation: 'r', object: 'Y', prompts: ['X is '] }])),
      'facts-bad-prompt',
      /^Record 1: prompt 1 \("X is "\) ends with white space/,
    );
    const rel = (r: Partial<Relation>) => JSON.stringify({ relations: [{ id: 'r', ...r }], facts: [] });
    expectError(() => importFactsJson(rel({ templates: ['The capital is'] })), 'facts-bad-template', /^Relation 1 \("r"\): template 1 .* does not contain \{subject\}/);
    expectError(() => importFactsJson(rel({ templates: ['{subject} is'], heldOutTemplates: [3] })), 'facts-bad-template', /held-out template index 3/);
    expectError(() => importFactsJson(rel({ templates: ['{subject} is'], heldOutTemplates: [0] })), 'facts-bad-template', /every template is held out/);
  });

  it('non-UTF-8 input', () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('subject,relation,object\nS'), 0xe9, ...new TextEncoder().encode('o Paulo,country_of,Brazil\n')]);
    expectError(() => importFactsCsv(bytes, { relations }), 'facts-not-utf8', /not valid UTF-8 .* offset 25 \(line 2\)/);
    expectError(() => importFacts(new Uint8Array([0x5b, 0xc0, 0xaf, 0x5d])), 'facts-not-utf8', /offset 1 \(line 1\)/);
    expectError(() => importFacts(new Uint8Array([0x5b, 0xed, 0xa0, 0x80, 0x5d]).buffer), 'facts-not-utf8', /offset 1/); // a UTF-16 surrogate
    expect(importFacts(new TextEncoder().encode('subject,relation,object\nSão Paulo,country_of,Brazil\n'), { relations }).facts[0].subject).toBe('São Paulo');
  });

  it('oversized input', () => {
    expect(FACT_LIMITS.maxBytes).toBe(20 * 1024 * 1024);
    expect(FACT_LIMITS.maxRecords).toBe(200_000);
    expectError(() => importFacts(new Uint8Array(FACT_LIMITS.maxBytes + 1)), 'facts-too-large', /The file is 20\.0 MB; the limit is 20\.0 MB\./);
    expectError(() => importFacts('x'.repeat(2000), { maxBytes: 1000 }), 'facts-too-large', /limit/);
    const rows = Array.from({ length: 11 }, (_, i) => `S${i},capital_of,O${i}`);
    expectError(() => importFactsCsv(csv('subject,relation,object', ...rows), { relations, maxRecords: 10 }), 'facts-too-large', /^The CSV file has more than 10 rows of facts; the limit is 10\./);
    expectError(() => importFactsJson(JSON.stringify(rows.map((r) => ({ subject: r, relation: 'capital_of', object: 'x' }))), { relations, maxRecords: 10 }), 'facts-too-large', /11 facts; the limit is 10/);
    const many = 'subject,relation,object\n' + 'S,capital_of,O\n'.repeat(FACT_LIMITS.maxRecords + 1);
    expectError(() => importFactsCsv(many, { relations }), 'facts-too-large', /the limit is 200,000/);
  });

  it('malformed files', () => {
    expectError(() => importFactsJson('{"facts": [}'), 'facts-bad-json', /^The file is not valid JSON/);
    expectError(() => importFactsJson('{"a": 1}'), 'facts-bad-format', /fact set/);
    expectError(() => importFactsJson('   '), 'facts-empty', /empty/);
    expectError(() => importFactsCsv('\n,,\n'), 'facts-empty', /CSV file is empty/);
    expectError(() => importFactsCsv(csv('subject,relation,object', '"France,capital_of,Paris')), 'facts-bad-csv', /^CSV row 2: a quoted field/);
  });

  it('validateFactSet names the fact', () => {
    const bad: FactSet = { ...customSet, facts: [{ ...customSet.facts[0], object: ' Warsaw' }] };
    expectError(() => validateFactSet(bad), 'facts-bad-field', /^Fact 1 \("born_in\/marie-curie"\): the field "object" \(" Warsaw"\) starts or ends with white space/);
    const unknown: FactSet = { ...customSet, facts: [{ ...customSet.facts[0], relation: 'nope' }] };
    expectError(() => validateFactSet(unknown), 'facts-unknown-relation', /^Fact 1 .*"nope" is not defined/);
  });
});

describe('createFact', () => {
  it('builds one checked fact from user input', () => {
    expect(createFact({ subject: ' Peru ', relation: 'capital_of', object: 'Lima' }, shipped.relations)).toEqual({
      id: 'capital_of/peru',
      relation: 'capital_of',
      subject: 'Peru',
      object: 'Lima',
    });
    expect(createFact({ subject: 'Curie', relation: 'born_in', object: 'Warsaw', prompts: ['Curie was born in', 'Curie was born in [MASK].'] })).toEqual({
      id: 'born_in/curie',
      relation: 'born_in',
      subject: 'Curie',
      object: 'Warsaw',
      prompts: ['Curie was born in'],
      maskedPrompts: ['Curie was born in [MASK].'],
    });
    expectError(() => createFact({ subject: 'Curie', relation: 'born_in', object: 'Warsaw' }), 'facts-unknown-relation', /^Fact: unknown relation "born_in"/);
  });
});
