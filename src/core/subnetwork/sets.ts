/**
 * TargetKG and ControlKG as fact selections (methods.md §5.5): the knowledge to remove and the
 * knowledge to keep must be non-empty and disjoint, or the objective contradicts itself (the
 * same sentence pushed toward uniform and held at the full model at once).
 */
import { FactlabError } from '../errors';
import type { Fact } from '../facts/types';
import { sequenceOf, type KgItem } from './data';

export type KgRole = 'TargetKG' | 'ControlKG';

const preview = (names: string[]) => `${names.slice(0, 5).join(', ')}${names.length > 5 ? ` and ${names.length - 5} more` : ''}`;

/** Throws when a fact list meant as TargetKG or ControlKG is empty. */
export function assertNonEmptyFacts(facts: Fact[], role: KgRole, from: string): void {
  if (facts.length === 0) {
    const hint = role === 'TargetKG' ? 'there is no knowledge to remove' : 'nothing would hold the rest of the knowledge in place';
    throw new FactlabError('bad-subnet-data', `${role} is empty (${from}): ${hint}. Select at least one fact.`);
  }
}

/** Throws when a fact is in both sets (same id, or the same subject, relation and object). */
export function assertDisjointFacts(target: Fact[], control: Fact[]): void {
  const key = (f: Fact) => `${f.relation}\u0000${f.subject}\u0000${f.object}`;
  const targetIds = new Set(target.map((f) => f.id));
  const targetKeys = new Set(target.map(key));
  const shared = control.filter((f) => targetIds.has(f.id) || targetKeys.has(key(f))).map((f) => f.id);
  if (shared.length) {
    throw new FactlabError('overlapping-subnet-sets', `TargetKG and ControlKG share ${shared.length} fact(s): ${preview(shared)}. A fact cannot be removed and kept at once; take them out of the control set.`);
  }
}

/** Throws when a tokenized sentence (prompt ⊕ target) is in both sets, e.g. two facts that verbalize identically. */
export function assertDisjointItems(target: KgItem[], control: KgItem[]): void {
  const targetSentences = new Set(target.map((item) => sequenceOf(item).join(',')));
  const shared = control.filter((item) => targetSentences.has(sequenceOf(item).join(',')));
  if (shared.length) {
    const names = shared.map((item, i) => item.id ?? `control item ${i}`);
    throw new FactlabError('overlapping-subnet-sets', `TargetKG and ControlKG contain ${shared.length} identical sentence(s): ${preview(names)}. Remove them from the control set.`);
  }
}

/** The library's facts that are not in the target: the default ControlKG. */
export function complementOf(library: Fact[], target: Fact[]): Fact[] {
  const key = (f: Fact) => `${f.relation}\u0000${f.subject}\u0000${f.object}`;
  const ids = new Set(target.map((f) => f.id));
  const keys = new Set(target.map(key));
  return library.filter((f) => !ids.has(f.id) && !keys.has(key(f)));
}
