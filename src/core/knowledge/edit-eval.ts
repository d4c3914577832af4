/**
 * The paper's editing experiments (methods.md §3.5 b, c): update one fact through its knowledge
 * neurons' value slots, and erase a relation through its 20 most frequent knowledge neurons,
 * each measured before and after (the edit itself is never applied to the loaded weights).
 */
import type * as tf from '@tensorflow/tfjs';
import { FactlabError } from '../errors';
import { promptsFor, relationsById } from '../facts/prompts';
import type { Fact, FactSet } from '../facts/types';
import { makeRng, shuffleInPlace } from '../random';
import { disposeOverrides, filterByRelationFrequency, mostFrequentNeurons, type Edit } from './edit';
import type { FactItem, FactModel } from './fact-model';
import type { Neuron } from './refine';

/** The facts' items; facts the model cannot pose (a BERT answer of several pieces) are left out. */
function factItems(model: FactModel, set: FactSet, facts: Fact[]): FactItem[] {
  const relations = relationsById(set);
  return facts.flatMap((fact) => {
    try {
      return model.items(fact, relations.get(fact.relation));
    } catch (err) {
      if (err instanceof FactlabError) return [];
      throw err;
    }
  });
}

/** Accuracy (every answer token top-1) and PPL = exp(mean −log P(answer)) over prompts. */
async function accuracyAndPerplexity(model: FactModel, items: FactItem[], overrides?: Record<string, tf.Tensor>): Promise<{ accuracy: number; perplexity: number }> {
  let correct = 0;
  let nll = 0;
  for (let i = 0; i < items.length; i += 64) {
    for (const p of await model.answerProbs(items.slice(i, i + 64), { overrides })) {
      correct += +p.top1;
      nll -= Math.log(Math.max(p.prob, 1e-300));
    }
  }
  return { accuracy: items.length ? correct / items.length : 0, perplexity: Math.exp(nll / Math.max(items.length, 1)) };
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
export async function updateFactExperiment(model: FactModel, set: FactSet, fact: Fact, newObject: string, factNeurons: Neuron[], relationNeuronSets: Neuron[][], seed: number): Promise<UpdateFactResult> {
  const rng = makeRng(seed);
  const relation = relationsById(set).get(fact.relation);
  const items = model.items(fact, relation);
  if (items.length === 0) throw new FactlabError('bad-facts', `Fact "${fact.id}" has no prompts.`);
  const pick = Math.floor(rng() * items.length);
  const prompt = promptsFor(fact, relation, { masked: model.objective === 'masked' })[pick];
  const { promptIds } = items[pick];
  const fromToken = items[pick].targetIds[0];
  const toToken = model.answerToken(newObject);
  if (fromToken === toToken) throw new FactlabError('bad-target', `The new object "${newObject}" starts with the same token as "${fact.object}"; pick an object that differs in its first token.`);
  const neurons = filterByRelationFrequency(factNeurons, relationNeuronSets);
  const before = await model.answerLogits(promptIds);
  const base: UpdateFactResult = {
    factId: fact.id, prompt, from: { object: fact.object, token: fromToken }, to: { object: newObject, token: toToken }, neurons,
    success: false, changed: false, successAt5: false, rankBefore: rankOf(before, toToken), rankAfter: rankOf(before, toToken),
    intra: { before: NaN, after: NaN }, inter: { before: NaN, after: NaN },
  };
  if (argmax(before) !== fromToken) return { ...base, skipped: 'the model does not predict the original object on this prompt' };
  if (neurons.length === 0) return { ...base, skipped: 'no knowledge neuron is left after the ≤ 10% relation filter' };
  const edit = await model.updateEdit(neurons, fromToken, toToken, `update:${fact.id}`);
  const intraFacts = shuffleInPlace(set.facts.filter((f) => f.relation === fact.relation && f.id !== fact.id), rng).slice(0, 5);
  const interFacts = shuffleInPlace(set.facts.filter((f) => f.relation !== fact.relation), rng).slice(0, 5);
  const intraItems = factItems(model, set, intraFacts);
  const interItems = factItems(model, set, interFacts);
  const overrides = model.editOverrides([edit]);
  try {
    const after = await model.answerLogits(promptIds, overrides);
    return {
      ...base,
      edit,
      success: argmax(after) === toToken,
      changed: argmax(after) !== fromToken,
      successAt5: rankOf(after, toToken) <= 5,
      rankAfter: rankOf(after, toToken),
      intra: { before: (await accuracyAndPerplexity(model, intraItems)).perplexity, after: (await accuracyAndPerplexity(model, intraItems, overrides)).perplexity },
      inter: { before: (await accuracyAndPerplexity(model, interItems)).perplexity, after: (await accuracyAndPerplexity(model, interItems, overrides)).perplexity },
    };
  } finally {
    disposeOverrides(overrides);
  }
}

export interface EraseRelationResult {
  relation: string;
  neurons: Array<{ neuron: Neuron; count: number }>;
  replacement: 'zero' | 'unk' | 'mean-embedding';
  edit: Edit;
  erased: { before: { accuracy: number; perplexity: number }; after: { accuracy: number; perplexity: number } };
  others: { before: { accuracy: number; perplexity: number }; after: { accuracy: number; perplexity: number } };
}

/** Erase relation r: its 20 most frequent knowledge neurons' value slots := 0 (or [UNK] / the mean embedding). */
export async function eraseRelationExperiment(model: FactModel, set: FactSet, relation: string, relationNeuronSets: Neuron[][], options: { replacement?: 'zero' | 'unk' | 'mean-embedding'; top?: number; otherFacts?: number; seed?: number } = {}): Promise<EraseRelationResult> {
  const replacement = options.replacement ?? 'zero';
  const top = mostFrequentNeurons(relationNeuronSets, options.top ?? 20);
  if (top.length === 0) throw new FactlabError('bad-neurons', `Relation ${relation} has no knowledge neurons to erase.`);
  const edit = await model.eraseEdit(top.map((t) => t.neuron), replacement, `erase:${relation}`);
  const erasedItems = factItems(model, set, set.facts.filter((f) => f.relation === relation));
  const others = set.facts.filter((f) => f.relation !== relation);
  const otherItems = factItems(model, set, options.otherFacts ? shuffleInPlace([...others], makeRng(options.seed ?? 42)).slice(0, options.otherFacts) : others);
  const overrides = model.editOverrides([edit]);
  try {
    return {
      relation, neurons: top, replacement, edit,
      erased: { before: await accuracyAndPerplexity(model, erasedItems), after: await accuracyAndPerplexity(model, erasedItems, overrides) },
      others: { before: await accuracyAndPerplexity(model, otherItems), after: await accuracyAndPerplexity(model, otherItems, overrides) },
    };
  } finally {
    disposeOverrides(overrides);
  }
}
