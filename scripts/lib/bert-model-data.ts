/**
 * The BERT default model's training data: masked fact prompts from the default fact set and
 * WordNet gloss lines for standard masked-LM, as WordPiece ids.
 *
 * Fact prompts of a fact whose object is one WordPiece token (methods.md §2.3; others are
 * skipped and counted):
 *  - training: the relation's masked templates (the prompts the lab asks BERT, so the model
 *    must know every fact in each of them) plus the fact's training causal templates with
 *    " [MASK]." appended;
 *  - held out: the fact's held-out causal templates with " [MASK]." appended, chosen by the
 *    same rotation as for the GPT-2 default model (`heldOutPerFact`), minus any that is also
 *    a training prompt. A relation has only 3–4 masked templates, so rotating those alone
 *    would leave one or two training phrasings per fact and hold out most of the lab's own prompts.
 */
import { promptsFor, relationsById } from '../../src/core/facts/prompts';
import type { FactSet } from '../../src/core/facts/types';
import type { WordPiece } from '../../src/core/tokenizers/wordpiece';
import { corpusLines, loadFactSet } from './default-model-data';
import { basicTokenizer } from './wordpiece-vocab';

export interface MaskedFactText {
  factId: string;
  relation: string;
  /** One [MASK] where the object goes. */
  prompt: string;
  object: string;
  /** One of the relation's masked templates: a prompt the lab itself uses. */
  lab: boolean;
}

export interface MaskedFactTexts {
  train: MaskedFactText[];
  heldOut: MaskedFactText[];
  skipped: Array<{ factId: string; relation: string; object: string }>;
}

const MASKED_END = ' [MASK].';

/** Fact objects that are one word for BERT's (cased) basic tokenizer: those the vocabulary must hold whole. */
export function oneWordObjects(set: FactSet = loadFactSet()): string[] {
  const split = basicTokenizer(false);
  return [...new Set(set.facts.map((f) => f.object))].filter((o) => split(o).length === 1).sort();
}

/** The fact prompts of both splits, keeping facts whose object `isOneToken` says is one token. */
export function maskedFactTexts(isOneToken: (object: string) => boolean, set: FactSet = loadFactSet()): MaskedFactTexts {
  const relations = relationsById(set);
  const out: MaskedFactTexts = { train: [], heldOut: [], skipped: [] };
  for (const fact of set.facts) {
    const relation = relations.get(fact.relation);
    if (!isOneToken(fact.object)) {
      out.skipped.push({ factId: fact.id, relation: fact.relation, object: fact.object });
      continue;
    }
    const entry = (prompt: string, lab: boolean): MaskedFactText => ({ factId: fact.id, relation: fact.relation, prompt, object: fact.object, lab });
    const lab = promptsFor(fact, relation, { masked: true });
    const causalTrain = promptsFor(fact, relation, { split: 'train' }).map((p) => p + MASKED_END);
    const train = [...new Set([...lab, ...causalTrain])];
    out.train.push(...train.map((p) => entry(p, lab.includes(p))));
    const heldOut = promptsFor(fact, relation, { split: 'heldout' }).map((p) => p + MASKED_END).filter((p) => !train.includes(p));
    out.heldOut.push(...heldOut.map((p) => entry(p, false)));
  }
  return out;
}

/** The text the vocabulary is built from: gloss lines and the training fact sentences, never held-out phrasings. */
export function vocabularyTexts(facts: MaskedFactTexts): string[] {
  return [...corpusLines('train'), ...facts.train.map((f) => f.prompt.replace('[MASK]', f.object))];
}

export interface FactRow {
  factId: string;
  relation: string;
  /** [CLS] … [MASK] … [SEP] */
  ids: number[];
  maskPosition: number;
  target: number;
  lab: boolean;
}

export interface BertTrainingData {
  facts: FactRow[];
  heldOut: FactRow[];
  /** [CLS] line [SEP], unmasked: each step masks its own positions. */
  text: number[][];
  skipped: MaskedFactTexts['skipped'];
}

export function factRows(tokenizer: WordPiece, facts: MaskedFactText[]): FactRow[] {
  return facts.map((f) => {
    const ids = tokenizer.encodeForModel(f.prompt);
    const target = tokenizer.tokenId(f.object);
    if (target === undefined) throw new Error(`fact object ${JSON.stringify(f.object)} is not one token of the vocabulary`);
    return { factId: f.factId, relation: f.relation, ids, maskPosition: ids.indexOf(tokenizer.maskId), target, lab: f.lab };
  });
}

/** [CLS] + the first `maxTokens` pieces + [SEP] of every non-empty line of a corpus split. */
export function textRows(tokenizer: WordPiece, split: 'train' | 'valid', maxTokens: number): number[][] {
  return corpusLines(split)
    .map((line) => [tokenizer.clsId!, ...tokenizer.encode(line).slice(0, maxTokens), tokenizer.sepId!])
    .filter((ids) => ids.length > 2);
}

export function loadBertTrainingData(tokenizer: WordPiece, facts: MaskedFactTexts, maxTextTokens: number): BertTrainingData {
  return { facts: factRows(tokenizer, facts.train), heldOut: factRows(tokenizer, facts.heldOut), text: textRows(tokenizer, 'train', maxTextTokens), skipped: facts.skipped };
}
