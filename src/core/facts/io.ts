/**
 * Import of fact sets (export: export.ts).
 *
 * Formats:
 * - JSON, fact-set form: `{ name, version, relations: Relation[], facts: Fact[] }`.
 * - JSON, flat form: `[{ id?, subject, relation, object, prompts? }]` (also accepted as
 *   `{ facts: [...] }` without relations).
 * - CSV with a header naming the columns subject, relation, object and optionally prompts
 *   (joined by ' | ') and id; other columns are ignored.
 *
 * In the flat forms a relation is resolved against the set's own relations, then against
 * `options.relations` (e.g. the default library). A fact whose relation is unknown must
 * bring its own prompts; it then gets a custom relation with no templates. Prompts with
 * [MASK] are masked prompts, all others are causal prompts.
 */
import { FactlabError } from '../errors';
import { csvLocation, parseCsv } from './csv';
import { decodeFactText, type FactInput } from './decode';
import { factIdFor, isMaskedPrompt } from './prompts';
import { MASK_TOKEN, type Fact, type FactSet, type FlatFactRecord, type Relation } from './types';
import { FACT_LIMITS, checkPrompts, checkRelation, factError, show } from './validate';

export type FactFileFormat = 'json' | 'csv';

export interface ImportOptions {
  /** 'json' or 'csv'; otherwise taken from `fileName`'s extension, otherwise sniffed. */
  format?: FactFileFormat;
  fileName?: string;
  /** Known relations for facts that name a relation without defining it (e.g. the default set's). */
  relations?: Relation[];
  /** Name and version of the result when the input does not carry them. */
  name?: string;
  version?: string;
  maxBytes?: number;
  maxRecords?: number;
}


// ---------------------------------------------------------------- building from records

interface RawRecord {
  where: string;
  id?: unknown;
  subject?: unknown;
  relation?: unknown;
  object?: unknown;
  prompts?: unknown;
  maskedPrompts?: unknown;
}

function customRelation(id: string): Relation {
  return {
    id,
    name: id,
    description: 'Custom relation: each fact brings its own prompts.',
    templates: [],
    maskedTemplates: [],
    heldOutTemplates: [],
  };
}

function requiredText(rec: RawRecord, field: 'subject' | 'relation' | 'object'): string {
  const v = rec[field];
  if (v === undefined || v === null) throw factError('facts-missing-field', `${rec.where}: the field "${field}" is missing.`);
  if (typeof v !== 'string') throw factError('facts-bad-field', `${rec.where}: the field "${field}" must be text.`);
  const t = v.trim();
  if (t === '') throw factError('facts-empty-field', `${rec.where}: the field "${field}" is empty.`);
  return t;
}

/** Prompts as given in a record: a list of strings, or one string joined by '|'. */
function promptList(rec: RawRecord, field: 'prompts' | 'maskedPrompts'): string[] {
  const v = rec[field];
  if (v === undefined || v === null || v === '') return [];
  if (typeof v === 'string') return splitPrompts(v, rec.where);
  if (!Array.isArray(v) || v.some((p) => typeof p !== 'string')) {
    throw factError('facts-bad-field', `${rec.where}: "${field}" must be a list of strings.`);
  }
  return v as string[];
}

/** Splits a ' | '-joined prompts cell; each prompt is trimmed, none may be empty. */
export function splitPrompts(cell: string, where: string): string[] {
  if (cell.trim() === '') return [];
  return cell.split('|').map((p, i) => {
    const t = p.trim();
    if (t === '') throw factError('facts-empty-field', `${where}: prompt ${i + 1} in the prompts column is empty.`);
    return t;
  });
}

function knownRelationsMessage(known: Map<string, Relation>): string {
  const ids = [...known.values()].filter((r) => r.templates.length || r.maskedTemplates.length).map((r) => r.id);
  if (ids.length === 0) return '';
  const shown = ids.slice(0, 12).join(', ') + (ids.length > 12 ? ', …' : '');
  return ` or use a known relation (${shown})`;
}

/**
 * Builds a fact set from flat records: resolves relations, derives ids, validates each
 * record and reports the record's location in every error.
 */
function buildFromRecords(
  records: RawRecord[],
  ownRelations: Relation[],
  options: ImportOptions,
  meta: { name?: string; version?: string; description?: string; source?: string },
): FactSet {
  const maxRecords = options.maxRecords ?? FACT_LIMITS.maxRecords;
  if (records.length > maxRecords) {
    throw factError('facts-too-large', `The input has ${records.length.toLocaleString('en-US')} facts; the limit is ${maxRecords.toLocaleString('en-US')}.`);
  }
  const own = new Map(ownRelations.map((r) => [r.id, r]));
  const known = new Map<string, Relation>(own);
  for (const r of options.relations ?? []) if (!known.has(r.id)) known.set(r.id, r);
  const used = new Map<string, Relation>();
  const custom = new Map<string, Relation>();
  const ids = new Map<string, string>();
  const facts: Fact[] = [];

  for (const rec of records) {
    const subject = requiredText(rec, 'subject');
    // The subject is written into masked templates: a [MASK] in it would make them ambiguous.
    if (subject.includes(MASK_TOKEN)) throw factError('facts-bad-field', `${rec.where}: the subject ${show(subject)} contains ${MASK_TOKEN}.`);
    const relationId = requiredText(rec, 'relation');
    const object = requiredText(rec, 'object');
    let id: string;
    if (rec.id === undefined || rec.id === null || rec.id === '') id = factIdFor(relationId, subject);
    else if (typeof rec.id !== 'string') throw factError('facts-bad-field', `${rec.where}: the field "id" must be text.`);
    else {
      id = rec.id.trim();
      if (id === '') throw factError('facts-empty-field', `${rec.where}: the field "id" is empty.`);
    }

    const given = promptList(rec, 'prompts');
    const prompts = given.filter((p) => !isMaskedPrompt(p));
    const maskedPrompts = [...given.filter(isMaskedPrompt), ...promptList(rec, 'maskedPrompts')];
    const hasPrompts = prompts.length + maskedPrompts.length > 0;

    let relation = known.get(relationId) ?? custom.get(relationId);
    if (!relation) {
      if (!hasPrompts) {
        throw factError(
          'facts-unknown-relation',
          `${rec.where}: unknown relation ${show(relationId)} and no prompts given. Give prompts for this fact (causal prompts ending where the object begins, or masked prompts with [MASK])${knownRelationsMessage(known)}.`,
        );
      }
      relation = customRelation(relationId);
      custom.set(relationId, relation);
    } else if (!hasPrompts && relation.templates.length === 0 && relation.maskedTemplates.length === 0) {
      throw factError('facts-no-prompts', `${rec.where}: the relation ${show(relationId)} has no templates and no prompts are given.`);
    }
    checkPrompts(subject, prompts, maskedPrompts, rec.where);

    const first = ids.get(id);
    if (first !== undefined) {
      throw factError(
        'facts-duplicate-id',
        `${rec.where}: duplicate fact id ${show(id)} (first used in ${first}). Give the facts distinct subjects or explicit ids.`,
      );
    }
    ids.set(id, rec.where);
    if (!custom.has(relationId)) used.set(relationId, relation);

    const fact: Fact = { id, relation: relationId, subject, object };
    if (prompts.length) fact.prompts = prompts;
    if (maskedPrompts.length) fact.maskedPrompts = maskedPrompts;
    facts.push(fact);
  }

  // The set's own relations (all of them, in order), then the known ones it uses, then custom ones.
  const relations: Relation[] = [...ownRelations];
  for (const r of known.values()) if (!own.has(r.id) && used.has(r.id)) relations.push(r);
  for (const r of custom.values()) relations.push(r);

  const set: FactSet = {
    name: meta.name ?? options.name ?? 'Imported facts',
    version: meta.version ?? options.version ?? '1',
    relations,
    facts,
  };
  if (meta.description !== undefined) set.description = meta.description;
  if (meta.source !== undefined) set.source = meta.source;
  return set;
}

/**
 * One fact from user input (e.g. the fact panel): fields trimmed, id derived from relation
 * and subject unless given, prompts with [MASK] sorted into `maskedPrompts`, and checked
 * like an imported record. A relation not in `relations` needs prompts.
 */
export function createFact(record: FlatFactRecord & { maskedPrompts?: string[] }, relations: Relation[] = []): Fact {
  return buildFromRecords([{ ...record, where: 'Fact' }], [], { relations }, {}).facts[0];
}

// ---------------------------------------------------------------- JSON

function stringList(v: unknown, where: string, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw factError('facts-bad-field', `${where}: "${field}" must be a list of strings.`);
  }
  return v as string[];
}

function parseRelation(raw: unknown, index: number): Relation {
  const where0 = `Relation ${index + 1}`;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw factError('facts-bad-format', `${where0} is not an object.`);
  const r = raw as Record<string, unknown>;
  if (r.id === undefined || r.id === null) throw factError('facts-missing-field', `${where0}: the field "id" is missing.`);
  if (typeof r.id !== 'string') throw factError('facts-bad-field', `${where0}: the field "id" must be text.`);
  const where = `${where0} (${show(r.id)})`;
  if (r.id.trim() === '') throw factError('facts-empty-field', `${where0}: the field "id" is empty.`);
  const heldOut = r.heldOutTemplates ?? [];
  if (!Array.isArray(heldOut) || heldOut.some((x) => typeof x !== 'number')) {
    throw factError('facts-bad-field', `${where}: "heldOutTemplates" must be a list of template indices.`);
  }
  for (const f of ['name', 'description', 'wikidata'] as const) {
    if (r[f] !== undefined && typeof r[f] !== 'string') throw factError('facts-bad-field', `${where}: the field "${f}" must be text.`);
  }
  if (r.heldOutPerFact !== undefined && typeof r.heldOutPerFact !== 'number') {
    throw factError('facts-bad-field', `${where}: "heldOutPerFact" must be a whole number.`);
  }
  const relation = canonicalRelation({
    id: r.id.trim(),
    name: typeof r.name === 'string' && r.name.trim() ? r.name : r.id.trim(),
    description: typeof r.description === 'string' ? r.description : '',
    wikidata: typeof r.wikidata === 'string' ? r.wikidata : undefined,
    templates: stringList(r.templates, where, 'templates'),
    maskedTemplates: stringList(r.maskedTemplates, where, 'maskedTemplates'),
    heldOutTemplates: heldOut as number[],
    heldOutPerFact: r.heldOutPerFact === undefined ? undefined : (r.heldOutPerFact as number),
  });
  checkRelation(relation, where);
  return relation;
}

/** A relation with its keys in the canonical order (and no undefined optional keys). */
export function canonicalRelation(r: Relation): Relation {
  const out: Relation = { id: r.id, name: r.name, description: r.description } as Relation;
  if (r.wikidata !== undefined) out.wikidata = r.wikidata;
  out.templates = r.templates;
  out.maskedTemplates = r.maskedTemplates;
  out.heldOutTemplates = r.heldOutTemplates;
  if (r.heldOutPerFact !== undefined) out.heldOutPerFact = r.heldOutPerFact;
  return out;
}

function toRecords(list: unknown[], label: string): RawRecord[] {
  return list.map((raw, i) => {
    const where = `${label} ${i + 1}`;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw factError('facts-bad-format', `${where} is not an object.`);
    return { ...(raw as Record<string, unknown>), where };
  });
}

/** Imports a fact set from JSON text or bytes (fact-set form or flat list). */
export function importFactsJson(input: FactInput, options: ImportOptions = {}): FactSet {
  const text = decodeFactText(input, options);
  if (text.trim() === '') throw factError('facts-empty', 'The file is empty.');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw factError('facts-bad-json', `The file is not valid JSON: ${(err as Error).message}`);
  }
  const maxRecords = options.maxRecords ?? FACT_LIMITS.maxRecords;
  const tooMany = (n: number) => {
    if (n > maxRecords) throw factError('facts-too-large', `The file has ${n.toLocaleString('en-US')} facts; the limit is ${maxRecords.toLocaleString('en-US')}.`);
  };
  if (Array.isArray(data)) {
    tooMany(data.length);
    return buildFromRecords(toRecords(data, 'Record'), [], options, {});
  }
  if (data && typeof data === 'object' && Array.isArray((data as { facts?: unknown }).facts)) {
    const d = data as Record<string, unknown>;
    const facts = d.facts as unknown[];
    tooMany(facts.length);
    if (d.relations !== undefined && !Array.isArray(d.relations)) throw factError('facts-bad-format', '"relations" must be a list.');
    const relations = ((d.relations as unknown[] | undefined) ?? []).map(parseRelation);
    const seen = new Set<string>();
    relations.forEach((r, i) => {
      if (seen.has(r.id)) throw factError('facts-duplicate-relation', `Relation ${i + 1} (${show(r.id)}): the relation id is used twice.`);
      seen.add(r.id);
    });
    for (const f of ['name', 'version', 'description', 'source'] as const) {
      if (d[f] !== undefined && typeof d[f] !== 'string') throw factError('facts-bad-field', `The field "${f}" of the fact set must be text.`);
    }
    return buildFromRecords(toRecords(facts, 'Fact'), relations, options, {
      name: d.name as string | undefined,
      version: d.version as string | undefined,
      description: d.description as string | undefined,
      source: d.source as string | undefined,
    });
  }
  throw factError('facts-bad-format', 'The JSON must be a fact set ({"relations": [...], "facts": [...]}) or a list of facts ([{"subject", "relation", "object", "prompts"}]).');
}

// ---------------------------------------------------------------- CSV

const CSV_COLUMNS = ['subject', 'relation', 'object', 'prompts', 'id'] as const;

/** Imports facts from CSV text or bytes; errors name the 1-based CSV row (the header is row 1). */
export function importFactsCsv(input: FactInput, options: ImportOptions = {}): FactSet {
  const text = decodeFactText(input, options);
  const maxRecords = options.maxRecords ?? FACT_LIMITS.maxRecords;
  let all: ReturnType<typeof parseCsv>;
  try {
    all = parseCsv(text, { maxRows: maxRecords + 1 }); // + the header
  } catch (err) {
    if (err instanceof FactlabError && err.code === 'facts-too-large') {
      const n = maxRecords.toLocaleString('en-US');
      throw factError('facts-too-large', `The CSV file has more than ${n} rows of facts; the limit is ${n}.`);
    }
    throw err;
  }
  const isBlank = (fields: string[]) => fields.every((f) => f.trim() === '');
  const rows = all.filter((r) => !isBlank(r.fields));
  if (rows.length === 0) throw factError('facts-empty', 'The CSV file is empty; it needs a header row naming the columns subject, relation, object (and optionally prompts).');
  const [header, ...data] = rows;
  const index = new Map<string, number>();
  header.fields.forEach((name, i) => {
    const key = name.trim().toLowerCase();
    if (!(CSV_COLUMNS as readonly string[]).includes(key)) return;
    if (index.has(key)) throw factError('facts-bad-csv', `${csvLocation(header)}: the column "${key}" appears twice in the header.`);
    index.set(key, i);
  });
  const missing = ['subject', 'relation', 'object'].filter((c) => !index.has(c));
  if (missing.length) {
    throw factError(
      'facts-missing-field',
      `${csvLocation(header)}: the header must name the columns subject, relation and object (and optionally prompts); missing: ${missing.join(', ')}. Found: ${header.fields.map((f) => show(f, 30)).join(', ')}.`,
    );
  }
  if (data.length > maxRecords) {
    throw factError('facts-too-large', `The CSV file has ${data.length.toLocaleString('en-US')} rows of facts; the limit is ${maxRecords.toLocaleString('en-US')}.`);
  }
  const width = header.fields.length;
  const records: RawRecord[] = data.map((row) => {
    const where = csvLocation(row);
    if (row.fields.length !== width) {
      throw factError('facts-bad-csv', `${where} has ${row.fields.length} fields but the header has ${width}.`);
    }
    const get = (c: string) => (index.has(c) ? row.fields[index.get(c)!] : undefined);
    const prompts = get('prompts');
    return {
      where,
      id: get('id'),
      subject: get('subject'),
      relation: get('relation'),
      object: get('object'),
      prompts: prompts === undefined ? undefined : splitPrompts(prompts, where),
    };
  });
  return buildFromRecords(records, [], options, {});
}

// ---------------------------------------------------------------- any format

function sniffFormat(input: FactInput, options: ImportOptions): FactFileFormat {
  if (options.format) return options.format;
  const ext = options.fileName?.toLowerCase().match(/\.([a-z0-9]+)$/)?.[1];
  if (ext === 'json') return 'json';
  if (ext === 'csv') return 'csv';
  const head = typeof input === 'string' ? input.slice(0, 64) : new TextDecoder().decode((input instanceof Uint8Array ? input : new Uint8Array(input)).subarray(0, 64));
  const c = head.replace(/^\uFEFF/, '').trimStart()[0];
  return c === '{' || c === '[' ? 'json' : 'csv';
}

/** Imports a fact file in either format (by `options.format`, the file name, or the content). */
export function importFacts(input: FactInput, options: ImportOptions = {}): FactSet {
  return sniffFormat(input, options) === 'json' ? importFactsJson(input, options) : importFactsCsv(input, options);
}
