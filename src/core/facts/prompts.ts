import { FactlabError } from '../errors';
import { MASK_TOKEN, SUBJECT_PLACEHOLDER } from './types';
import type { Fact, FactSet, PromptOptions, Relation } from './types';

/**
 * The subject part of a fact id: Unicode-normalised, accents removed, lower-case, runs of
 * anything other than letters and digits collapsed to '-'. 'São Tomé' → 'sao-tome'.
 */
export function normalizeSubject(subject: string): string {
  const slug = subject
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '');
  if (slug) return slug;
  // Only punctuation or symbols: fall back to the code points, still deterministic.
  return [...subject.trim()].map((c) => c.codePointAt(0)!.toString(16)).join('-') || 'empty';
}

/** The stable id of a fact: relation id + '/' + normalised subject (e.g. 'capital_of/france'). */
export function factIdFor(relationId: string, subject: string): string {
  return `${relationId}/${normalizeSubject(subject)}`;
}

/** Replaces every '{subject}' in a template (no `$` pattern surprises, unlike String.replace). */
export function fillTemplate(template: string, subject: string): string {
  return template.split(SUBJECT_PLACEHOLDER).join(subject);
}

/** Number of [MASK] tokens in a prompt. */
export function countMasks(prompt: string): number {
  return prompt.split(MASK_TOKEN).length - 1;
}

/** A prompt containing [MASK] is a masked prompt; anything else is a causal prompt. */
export function isMaskedPrompt(prompt: string): boolean {
  return prompt.includes(MASK_TOKEN);
}

/** FNV-1a hash of a string: a stable, platform-independent choice of rotated templates. */
function stableHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The templates held out for one fact: the relation's fixed list, or a rotating window (`heldOutPerFact`). */
export function heldOutIndices(relation: Relation, factId: string): number[] {
  const k = relation.heldOutPerFact ?? 0;
  if (k <= 0) return relation.heldOutTemplates;
  const n = relation.templates.length;
  const start = stableHash(factId) % n;
  return Array.from({ length: Math.min(k, n - 1) }, (_, j) => (start + j) % n);
}

/** Indices of a relation's causal templates in a split (for one fact when templates rotate). */
export function templateIndices(relation: Relation, split: PromptOptions['split'] = 'all', factId = ''): number[] {
  const heldOut = new Set(heldOutIndices(relation, factId));
  const all = relation.templates.map((_, i) => i);
  if (split === 'all') return all;
  if (split === 'heldout') return all.filter((i) => heldOut.has(i));
  return all.filter((i) => !heldOut.has(i));
}

/**
 * The prompts of a fact.
 * - Causal (default): the fact's own `prompts` if it has them (all count as training
 *   prompts, none is held out), otherwise the relation's templates in the requested split.
 * - Masked: the fact's own `maskedPrompts`, otherwise the relation's masked templates.
 *   Masked prompts have no held-out split: they are the prompts the lab asks BERT, so the
 *   BERT default model trains on all of them ('train' and 'all' give all of them, 'heldout'
 *   none); its held-out phrasings come from the causal templates (scripts/lib/bert-model-data.ts).
 */
export function promptsFor(fact: Fact, relation: Relation | undefined, options: PromptOptions = {}): string[] {
  const split = options.split ?? 'all';
  if (relation && relation.id !== fact.relation) {
    throw new FactlabError(
      'facts-relation-mismatch',
      `Fact "${fact.id}" belongs to relation "${fact.relation}", not "${relation.id}".`,
    );
  }
  if (options.masked) {
    if (split === 'heldout') return [];
    if (fact.maskedPrompts?.length) return [...fact.maskedPrompts];
    return (relation?.maskedTemplates ?? []).map((t) => fillTemplate(t, fact.subject));
  }
  if (fact.prompts?.length) return split === 'heldout' ? [] : [...fact.prompts];
  if (!relation) return [];
  return templateIndices(relation, split, fact.id).map((i) => fillTemplate(relation.templates[i], fact.subject));
}

/**
 * The target text of a fact: for causal models the object with a leading space
 * (' Paris'), as tokenizers like GPT-2's BPE see it after a prompt; for masked models the
 * bare object ('Paris').
 */
export function targetFor(fact: Fact, options: { masked?: boolean } = {}): string {
  return options.masked ? fact.object : ` ${fact.object}`;
}

/** Relations of a set by id. */
export function relationsById(set: Pick<FactSet, 'relations'>): Map<string, Relation> {
  return new Map(set.relations.map((r) => [r.id, r]));
}

/** `promptsFor` with the relation looked up in the set. */
export function factPrompts(set: FactSet, fact: Fact, options: PromptOptions = {}): string[] {
  return promptsFor(fact, set.relations.find((r) => r.id === fact.relation), options);
}

/** Prompts and target of a fact in one object, ready for the engine. */
export function expandFact(
  fact: Fact,
  relation: Relation | undefined,
  options: PromptOptions = {},
): { id: string; subject: string; relation: string; prompts: string[]; target: string } {
  return {
    id: fact.id,
    subject: fact.subject,
    relation: fact.relation,
    prompts: promptsFor(fact, relation, options),
    target: targetFor(fact, options),
  };
}
