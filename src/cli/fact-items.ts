import { FactlabError } from '../core/errors';
import { relationsById } from '../core/facts/prompts';
import type { Fact, FactSet } from '../core/facts/types';
import type { Engine } from '../core/engine';
import type { FactItem } from '../core/knowledge/fact-model';

/** A fact's prompts (causal or masked, as the engine's model needs) and answer as token ids. */
export function factItems(engine: Engine, set: FactSet, fact: Fact, split = 'all'): FactItem[] {
  if (split !== 'all' && split !== 'train' && split !== 'heldout') throw new FactlabError('usage', '--split must be all, train or heldout.');
  const items = engine.factModel.items(fact, relationsById(set).get(fact.relation), split);
  if (items.length === 0) throw new FactlabError('bad-facts', `Fact "${fact.id}" has no prompts in split "${split}".`);
  return items;
}
