/**
 * The default model's training data: fact sentences from the default fact set (training
 * templates only) and general English text, tokenized with loss weights.
 */
import { readFileSync } from 'node:fs';
import { promptsFor } from '../../src/core/facts/prompts';
import type { FactSet } from '../../src/core/facts/types';
import type { Tokenizer } from '../../src/core/tokenizers/types';

export const FACTS_FILE = 'public/models/default/facts.json';
export const CORPUS_DIR = 'data/corpus';

export interface Row {
  tokens: number[];
  /** Loss weight for predicting tokens[t + 1] at position t. */
  weights: number[];
}

export interface FactPrompt {
  factId: string;
  relation: string;
  prompt: number[];
  object: number[];
}

export interface TrainingData {
  facts: Row[];
  text: Row[];
  heldOut: FactPrompt[];
  eos: number;
}

export function loadFactSet(): FactSet {
  return JSON.parse(readFileSync(FACTS_FILE, 'utf8')) as FactSet;
}

export function corpusLines(split: 'train' | 'valid'): string[] {
  return readFileSync(`${CORPUS_DIR}/${split}.txt`, 'utf8').split('\n').filter((l) => l.trim().length > 0);
}

/** Every fact with each prompt of a split, as text. */
function factTexts(split: 'train' | 'heldout'): Array<{ factId: string; relation: string; prompt: string; object: string }> {
  const set = loadFactSet();
  const relations = new Map(set.relations.map((r) => [r.id, r]));
  return set.facts.flatMap((fact) => promptsFor(fact, relations.get(fact.relation), { split }).map((prompt) => ({ factId: fact.id, relation: fact.relation, prompt, object: fact.object })));
}

/** The text the tokenizer is trained on: training sentences only, never held-out templates. */
export function trainingTexts(): string[] {
  return [...corpusLines('train'), ...factTexts('train').map((f) => `${f.prompt} ${f.object}.`)];
}

function toFactPrompts(tokenizer: Tokenizer, split: 'train' | 'heldout'): FactPrompt[] {
  return factTexts(split).map((f) => ({ factId: f.factId, relation: f.relation, prompt: tokenizer.encode(f.prompt), object: tokenizer.encode(` ${f.object}`) }));
}

export function factPrompts(tokenizer: Tokenizer): { train: FactPrompt[]; heldOut: FactPrompt[] } {
  return { train: toFactPrompts(tokenizer, 'train'), heldOut: toFactPrompts(tokenizer, 'heldout') };
}

export function validationText(tokenizer: Tokenizer, maxTokens = 64): number[][] {
  return corpusLines('valid').map((line) => tokenizer.encode(line).slice(0, maxTokens));
}

export function loadTrainingData(tokenizer: Tokenizer, options: { answerWeight: number; maxTextTokens: number; eos: number }): TrainingData {
  const period = tokenizer.encode('.');
  const facts = toFactPrompts(tokenizer, 'train').map((f) => {
    // "<prompt> <object>." — the object tokens weigh more: they are what the model must know.
    const tokens = [...f.prompt, ...f.object, ...period];
    const weights = tokens.map((_, t) => (t + 1 >= tokens.length ? 0 : t + 1 >= f.prompt.length && t + 1 < f.prompt.length + f.object.length ? options.answerWeight : 1));
    return { tokens, weights };
  });
  const text = corpusLines('train').map((line) => {
    const tokens = tokenizer.encode(line).slice(0, options.maxTextTokens);
    return { tokens, weights: tokens.map((_, t) => (t + 1 < tokens.length ? 1 : 0)) };
  }).filter((r) => r.tokens.length > 1);
  return { facts, text, heldOut: toFactPrompts(tokenizer, 'heldout'), eos: options.eos };
}
