/**
 * Fact sets (PARAREL style): a relation carries paraphrase templates, a fact is
 * (subject, relation, object), and each fact expands into a bag of prompts.
 *
 * Causal prompts end exactly where the object begins ("The capital of France is"), and
 * the target is the object with a leading space (" Paris"). Masked prompts hold one
 * [MASK] where the object goes ("The capital of France is [MASK].").
 */

/** The placeholder a relation's templates use for the subject. */
export const SUBJECT_PLACEHOLDER = '{subject}';
/** The mask token of masked prompts (BERT-style). */
export const MASK_TOKEN = '[MASK]';

export interface Relation {
  /** Stable identifier, e.g. 'capital_of'; fact ids start with it. */
  id: string;
  /** Short human-readable name, e.g. 'capital'. */
  name: string;
  description: string;
  /** Causal templates: contain '{subject}' and end exactly where the object begins. */
  templates: string[];
  /** Masked templates: contain '{subject}' and exactly one '[MASK]'. */
  maskedTemplates: string[];
  /** Indices into `templates` kept out of training for every fact (paraphrase generalisation checks). */
  heldOutTemplates: number[];
  /**
   * Alternatively, hold out this many templates per fact, rotating with the fact (chosen by a
   * hash of its id): every template is then trained with other facts, and the held-out
   * check asks whether a fact learnt in some phrasings is known in another familiar one.
   */
  heldOutPerFact?: number;
  /** The closest Wikidata property (as in LAMA / PARAREL), when there is one, e.g. 'P36'. */
  wikidata?: string;
}

export interface Fact {
  /**
   * Stable identifier: `${relation}/${normalized subject}` unless given explicitly
   * (never derived from the position in a list). See `factIdFor`.
   */
  id: string;
  relation: string;
  subject: string;
  object: string;
  /** Explicit causal prompts; when present they replace the relation's templates for this fact. */
  prompts?: string[];
  /** Explicit masked prompts (one [MASK] each); when present they replace the relation's masked templates. */
  maskedPrompts?: string[];
}

export interface FactSet {
  name: string;
  version: string;
  description?: string;
  /** Where the facts come from (data packages and their versions). */
  source?: string;
  relations: Relation[];
  facts: Fact[];
}

/**
 * The flat interchange form (JSON list or CSV row). `prompts` may mix causal prompts and
 * masked prompts; a prompt containing [MASK] is masked.
 */
export interface FlatFactRecord {
  id?: string;
  subject: string;
  relation: string;
  object: string;
  prompts?: string[];
}

/** Which of a relation's templates to use: the training ones, the held-out ones, or all. */
export type PromptSplit = 'train' | 'heldout' | 'all';

export interface PromptOptions {
  split?: PromptSplit;
  /** Masked prompts (for BERT-style models) instead of causal ones. */
  masked?: boolean;
}
