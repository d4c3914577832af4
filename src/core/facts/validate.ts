import { FactlabError } from '../errors';
import { countMasks } from './prompts';
import { MASK_TOKEN, SUBJECT_PLACEHOLDER } from './types';
import type { Fact, FactSet, Relation } from './types';

/** Size limits for imported fact files. */
export const FACT_LIMITS = {
  /** Bytes of input (UTF-8). */
  maxBytes: 20 * 1024 * 1024,
  /** CSV rows or JSON records. */
  maxRecords: 200_000,
} as const;

/** Error codes thrown by the fact loaders and validators (all as FactlabError). */
export type FactErrorCode =
  | 'facts-missing-field'
  | 'facts-empty-field'
  | 'facts-bad-field'
  | 'facts-duplicate-id'
  | 'facts-unknown-relation'
  | 'facts-no-prompts'
  | 'facts-prompt-without-subject'
  | 'facts-bad-mask'
  | 'facts-bad-prompt'
  | 'facts-bad-template'
  | 'facts-duplicate-relation'
  | 'facts-not-utf8'
  | 'facts-too-large'
  | 'facts-bad-json'
  | 'facts-bad-csv'
  | 'facts-bad-format'
  | 'facts-empty';

export function factError(code: FactErrorCode, message: string): FactlabError {
  return new FactlabError(code, message);
}

/** A string for error messages: quoted, shortened when long. */
export function show(value: string, max = 80): string {
  const s = value.length > max ? `${value.slice(0, max - 1)}…` : value;
  return JSON.stringify(s);
}

/** `where` is a location such as 'CSV row 3', 'Record 2' or 'Fact 5 ("capital_of/france")'. */
export function checkRelation(relation: Relation, where: string): void {
  if (typeof relation.id !== 'string' || relation.id.trim() === '') {
    throw factError('facts-empty-field', `${where}: the relation id is empty.`);
  }
  relation.templates.forEach((t, i) => {
    const which = `${where}: template ${i + 1} (${show(t)})`;
    if (typeof t !== 'string' || t.trim() === '') throw factError('facts-bad-template', `${where}: template ${i + 1} is empty.`);
    if (!t.includes(SUBJECT_PLACEHOLDER)) throw factError('facts-bad-template', `${which} does not contain ${SUBJECT_PLACEHOLDER}.`);
    if (t.includes(MASK_TOKEN)) {
      throw factError('facts-bad-mask', `${which} contains ${MASK_TOKEN}; causal templates end where the object begins, masked ones go in maskedTemplates.`);
    }
    if (/\s$/.test(t)) {
      throw factError('facts-bad-template', `${which} ends with white space; a causal template must end exactly where the object begins (the target carries the leading space).`);
    }
  });
  relation.maskedTemplates.forEach((t, i) => {
    const which = `${where}: masked template ${i + 1} (${show(t)})`;
    if (typeof t !== 'string' || t.trim() === '') throw factError('facts-bad-template', `${where}: masked template ${i + 1} is empty.`);
    if (!t.includes(SUBJECT_PLACEHOLDER)) throw factError('facts-bad-template', `${which} does not contain ${SUBJECT_PLACEHOLDER}.`);
    const masks = countMasks(t);
    if (masks !== 1) throw factError('facts-bad-mask', `${which} must contain exactly one ${MASK_TOKEN}; it has ${masks}.`);
  });
  const seen = new Set<number>();
  for (const i of relation.heldOutTemplates) {
    if (!Number.isInteger(i) || i < 0 || i >= relation.templates.length) {
      throw factError('facts-bad-template', `${where}: held-out template index ${i} is not an index into its ${relation.templates.length} templates.`);
    }
    if (seen.has(i)) throw factError('facts-bad-template', `${where}: held-out template index ${i} is listed twice.`);
    seen.add(i);
  }
  const perFact = relation.heldOutPerFact;
  if (perFact !== undefined && (!Number.isInteger(perFact) || perFact < 0 || (relation.templates.length > 0 && perFact >= relation.templates.length))) {
    throw factError('facts-bad-template', `${where}: heldOutPerFact must be a whole number below the number of templates (${relation.templates.length}), got ${perFact}.`);
  }
  if (relation.templates.length > 0 && seen.size >= relation.templates.length) {
    throw factError('facts-bad-template', `${where}: every template is held out; keep at least one for training.`);
  }
}

/** Checks explicit prompts of a fact: causal ones hold the subject and end where the object begins, masked ones hold one [MASK]. */
export function checkPrompts(subject: string, prompts: string[], maskedPrompts: string[], where: string): void {
  const lowerSubject = subject.toLowerCase();
  prompts.forEach((p, i) => {
    const which = `${where}: prompt ${i + 1} (${show(p)})`;
    if (p.trim() === '') throw factError('facts-empty-field', `${where}: prompt ${i + 1} is empty.`);
    if (p.includes(MASK_TOKEN)) {
      throw factError('facts-bad-mask', `${which} contains ${MASK_TOKEN} but is listed as a causal prompt; put it with the masked prompts.`);
    }
    if (!p.toLowerCase().includes(lowerSubject)) {
      throw factError('facts-prompt-without-subject', `${which} does not contain the subject ${show(subject)}.`);
    }
    if (/\s$/.test(p)) {
      throw factError('facts-bad-prompt', `${which} ends with white space; a causal prompt must end exactly where the object begins (the target carries the leading space).`);
    }
  });
  maskedPrompts.forEach((p, i) => {
    const which = `${where}: masked prompt ${i + 1} (${show(p)})`;
    if (p.trim() === '') throw factError('facts-empty-field', `${where}: masked prompt ${i + 1} is empty.`);
    const masks = countMasks(p);
    if (masks !== 1) throw factError('facts-bad-mask', `${which} must contain exactly one ${MASK_TOKEN}; it has ${masks}.`);
    if (!p.toLowerCase().includes(lowerSubject)) {
      throw factError('facts-prompt-without-subject', `${which} does not contain the subject ${show(subject)}.`);
    }
  });
}

/** Checks the string fields of a fact. */
export function checkFactFields(fact: Pick<Fact, 'id' | 'relation' | 'subject' | 'object'>, where: string): void {
  for (const field of ['id', 'relation', 'subject', 'object'] as const) {
    const v: unknown = fact[field];
    if (v === undefined || v === null) throw factError('facts-missing-field', `${where}: the field "${field}" is missing.`);
    if (typeof v !== 'string') throw factError('facts-bad-field', `${where}: the field "${field}" must be text.`);
    if (v.trim() === '') throw factError('facts-empty-field', `${where}: the field "${field}" is empty.`);
    if (v !== v.trim()) {
      throw factError('facts-bad-field', `${where}: the field "${field}" (${show(v)}) starts or ends with white space.`);
    }
  }
}

/**
 * Validates a whole fact set (e.g. one built in code or edited in the UI); throws a
 * FactlabError naming the first bad relation or fact. Importers run the same checks with
 * file locations (CSV row, JSON record).
 */
export function validateFactSet(set: FactSet): void {
  if (!set || !Array.isArray(set.relations) || !Array.isArray(set.facts)) {
    throw factError('facts-bad-format', 'A fact set needs "relations" and "facts" lists.');
  }
  const relations = new Map<string, Relation>();
  set.relations.forEach((r, i) => {
    const where = `Relation ${i + 1} (${show(String(r.id))})`;
    checkRelation(r, where);
    if (relations.has(r.id)) throw factError('facts-duplicate-relation', `${where}: the relation id ${show(r.id)} is used twice.`);
    relations.set(r.id, r);
  });
  const ids = new Map<string, number>();
  set.facts.forEach((f, i) => {
    const where = `Fact ${i + 1}${typeof f.id === 'string' ? ` (${show(f.id)})` : ''}`;
    checkFactFields(f, where);
    const first = ids.get(f.id);
    if (first !== undefined) {
      throw factError('facts-duplicate-id', `${where}: duplicate fact id ${show(f.id)} (also fact ${first}).`);
    }
    ids.set(f.id, i + 1);
    const relation = relations.get(f.relation);
    if (!relation) {
      throw factError('facts-unknown-relation', `${where}: the relation ${show(f.relation)} is not defined in the fact set.`);
    }
    checkPrompts(f.subject, f.prompts ?? [], f.maskedPrompts ?? [], where);
    const hasPrompts = (f.prompts?.length ?? 0) + (f.maskedPrompts?.length ?? 0) > 0;
    if (!hasPrompts && relation.templates.length === 0 && relation.maskedTemplates.length === 0) {
      throw factError('facts-no-prompts', `${where}: the relation ${show(f.relation)} has no templates and the fact has no prompts.`);
    }
  });
}
