/**
 * The paper's editing experiments (methods.md §3.5 b, c): update one fact through its knowledge
 * neurons' value slots, and erase a relation through its 20 most frequent knowledge neurons,
 * each measured before and after (the edit itself is never applied to the loaded weights).
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError } from '../errors';
import { promptsFor, relationsById, targetFor } from '../facts/prompts';
import type { Fact, FactSet } from '../facts/types';
import { forward } from '../model/gpt2';
import type { Gpt2Weights } from '../model/weights';
import { makeRng, shuffleInPlace } from '../random';
import type { Tokenizer } from '../tokenizers/types';
import { disposeOverrides, editOverrides, eraseEdit, filterByRelationFrequency, mostFrequentNeurons, updateFactEdit, type Edit } from './edit';
import { answerProbs } from './patching';
import type { Neuron } from './refine';

type Items = Array<{ promptIds: number[]; targetIds: number[] }>;

function factItems(tokenizer: Tokenizer, set: FactSet, facts: Fact[]): Items {
  const relations = relationsById(set);
  return facts.flatMap((fact) => {
    const targetIds = tokenizer.encode(targetFor(fact));
    return promptsFor(fact, relations.get(fact.relation)).map((p) => ({ promptIds: tokenizer.encode(p), targetIds }));
  });
}

/** Accuracy (every answer token top-1) and PPL = exp(mean −log P(answer)) over prompts. */
async function accuracyAndPerplexity(weights: Gpt2Weights, items: Items, overrides?: Record<string, tf.Tensor>): Promise<{ accuracy: number; perplexity: number }> {
  let correct = 0;
  let nll = 0;
  for (let i = 0; i < items.length; i += 64) {
    for (const p of await answerProbs(weights, items.slice(i, i + 64), { overrides })) {
      correct += +p.top1;
      nll -= Math.log(Math.max(p.prob, 1e-300));
    }
  }
  return { accuracy: items.length ? correct / items.length : 0, perplexity: Math.exp(nll / Math.max(items.length, 1)) };
}

async function nextTokenLogits(weights: Gpt2Weights, promptIds: number[], overrides?: Record<string, tf.Tensor>): Promise<Float32Array> {
  const logits = tf.tidy(() => forward(weights, tf.tensor2d([promptIds], [1, promptIds.length], 'int32'), { overrides, logitPositions: [-1] }));
  const values = (await logits.data()) as Float32Array;
  logits.dispose();
  return values;
}

const argmax = (v: Float32Array) => v.reduce((best, x, i) => (x > v[best] ? i : best), 0);
const rankOf = (v: Float32Array, token: number) => v.reduce((r, x) => (x > v[token] ? r + 1 : r), 1);

export interface UpdateFactResult {
  factId: string;
  prompt: string;
  from: { object: string; token: number };
  to: { object: string; token: number };
  neurons: Neuron[];
  skipped?: string;
  edit?: Edit;
  success: boolean;
  changed: boolean;
  successAt5: boolean;
  rankBefore: number;
  rankAfter: number;
  intra: { before: number; after: number };
  inter: { before: number; after: number };
}

/**
 * Update ⟨h, r, t⟩ → ⟨h, r, t′⟩ with the official filter and norm-scaled λ1 = 1, λ2 = 8.
 * `relationNeuronSets` are the knowledge-neuron sets of the relation's facts (for the ≤ 10% filter).
 */
export async function updateFactExperiment(weights: Gpt2Weights, tokenizer: Tokenizer, set: FactSet, fact: Fact, newObject: string, factNeurons: Neuron[], relationNeuronSets: Neuron[][], seed: number): Promise<UpdateFactResult> {
  const rng = makeRng(seed);
  const prompts = promptsFor(fact, relationsById(set).get(fact.relation));
  if (prompts.length === 0) throw new FactlabError('bad-facts', `Fact "${fact.id}" has no prompts.`);
  const prompt = prompts[Math.floor(rng() * prompts.length)];
  const promptIds = tokenizer.encode(prompt);
  const fromToken = tokenizer.encode(targetFor(fact))[0];
  const toToken = tokenizer.encode(` ${newObject}`)[0];
  if (fromToken === toToken) throw new FactlabError('bad-target', `The new object "${newObject}" starts with the same token as "${fact.object}"; pick an object that differs in its first token.`);
  const neurons = filterByRelationFrequency(factNeurons, relationNeuronSets);
  const before = await nextTokenLogits(weights, promptIds);
  const base: UpdateFactResult = {
    factId: fact.id, prompt, from: { object: fact.object, token: fromToken }, to: { object: newObject, token: toToken }, neurons,
    success: false, changed: false, successAt5: false, rankBefore: rankOf(before, toToken), rankAfter: rankOf(before, toToken),
    intra: { before: NaN, after: NaN }, inter: { before: NaN, after: NaN },
  };
  if (argmax(before) !== fromToken) return { ...base, skipped: 'the model does not predict the original object on this prompt' };
  if (neurons.length === 0) return { ...base, skipped: 'no knowledge neuron is left after the ≤ 10% relation filter' };
  const edit = await updateFactEdit(weights, neurons, fromToken, toToken, { id: `update:${fact.id}` });
  const intraFacts = shuffleInPlace(set.facts.filter((f) => f.relation === fact.relation && f.id !== fact.id), rng).slice(0, 5);
  const interFacts = shuffleInPlace(set.facts.filter((f) => f.relation !== fact.relation), rng).slice(0, 5);
  const intraItems = factItems(tokenizer, set, intraFacts);
  const interItems = factItems(tokenizer, set, interFacts);
  const overrides = editOverrides(weights, [edit]);
  try {
    const after = await nextTokenLogits(weights, promptIds, overrides);
    return {
      ...base,
      edit,
      success: argmax(after) === toToken,
      changed: argmax(after) !== fromToken,
      successAt5: rankOf(after, toToken) <= 5,
      rankAfter: rankOf(after, toToken),
      intra: { before: (await accuracyAndPerplexity(weights, intraItems)).perplexity, after: (await accuracyAndPerplexity(weights, intraItems, overrides)).perplexity },
      inter: { before: (await accuracyAndPerplexity(weights, interItems)).perplexity, after: (await accuracyAndPerplexity(weights, interItems, overrides)).perplexity },
    };
  } finally {
    disposeOverrides(overrides);
  }
}

export interface EraseRelationResult {
  relation: string;
  neurons: Array<{ neuron: Neuron; count: number }>;
  replacement: 'zero' | 'mean-embedding';
  edit: Edit;
  erased: { before: { accuracy: number; perplexity: number }; after: { accuracy: number; perplexity: number } };
  others: { before: { accuracy: number; perplexity: number }; after: { accuracy: number; perplexity: number } };
}

/** Erase relation r: its 20 most frequent knowledge neurons' value slots := 0 (or the mean embedding). */
export async function eraseRelationExperiment(weights: Gpt2Weights, tokenizer: Tokenizer, set: FactSet, relation: string, relationNeuronSets: Neuron[][], options: { replacement?: 'zero' | 'mean-embedding'; top?: number; otherFacts?: number; seed?: number } = {}): Promise<EraseRelationResult> {
  const replacement = options.replacement ?? 'zero';
  const top = mostFrequentNeurons(relationNeuronSets, options.top ?? 20);
  if (top.length === 0) throw new FactlabError('bad-neurons', `Relation ${relation} has no knowledge neurons to erase.`);
  const edit = await eraseEdit(weights, top.map((t) => t.neuron), replacement, `erase:${relation}`);
  const erasedItems = factItems(tokenizer, set, set.facts.filter((f) => f.relation === relation));
  const others = set.facts.filter((f) => f.relation !== relation);
  const otherItems = factItems(tokenizer, set, options.otherFacts ? shuffleInPlace([...others], makeRng(options.seed ?? 42)).slice(0, options.otherFacts) : others);
  const overrides = editOverrides(weights, [edit]);
  try {
    return {
      relation, neurons: top, replacement, edit,
      erased: { before: await accuracyAndPerplexity(weights, erasedItems), after: await accuracyAndPerplexity(weights, erasedItems, overrides) },
      others: { before: await accuracyAndPerplexity(weights, otherItems), after: await accuracyAndPerplexity(weights, otherItems, overrides) },
    };
  } finally {
    disposeOverrides(overrides);
  }
}
