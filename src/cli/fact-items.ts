import { FactlabError } from '../core/errors';
import { promptsFor, relationsById, targetFor } from '../core/facts/prompts';
import type { Fact, FactSet } from '../core/facts/types';
import type { Engine } from '../core/engine';

/** A fact's prompts and target as token ids for this engine. */
export function factItems(engine: Engine, set: FactSet, fact: Fact, split = 'all'): Array<{ promptIds: number[]; targetIds: number[] }> {
  if (split !== 'all' && split !== 'train' && split !== 'heldout') throw new FactlabError('usage', '--split must be all, train or heldout.');
  const prompts = promptsFor(fact, relationsById(set).get(fact.relation), { split: split as 'all' });
  if (prompts.length === 0) throw new FactlabError('bad-facts', `Fact "${fact.id}" has no prompts in split "${split}".`);
  return prompts.map((p) => engine.encodeFact(p, targetFor(fact)));
}
