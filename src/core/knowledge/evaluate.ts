/**
 * The paper's suppress/amplify table over a fact set (methods.md §3.5a): for each fact, its
 * knowledge neurons are suppressed (×0) or amplified (×2) and the change of the correct
 * probability is measured on the fact's own prompts and on the prompts of one fact of
 * another relation. Both aggregations are reported: the official ratio of means per
 * relation (primary) and EleutherAI's mean of per-prompt ratios.
 */
import { FactlabError, throwIfAborted } from '../errors';
import { relationsById } from '../facts/prompts';
import type { Fact, FactSet } from '../facts/types';
import { makeRng, type Rng } from '../random';
import type { AttributionCallbacks, AttributionSettings } from './attribution';
import type { FactItem, FactModel } from './fact-model';
import type { NeuronMethod } from './neurons';
import type { Neuron, RefineSettings } from './refine';

export interface InterventionEvaluationOptions {
  method: NeuronMethod;
  attribution?: Partial<AttributionSettings>;
  refine: RefineSettings;
  seed: number;
  /** Which prompts to attribute and test: the relation's training templates or all of them. */
  split?: 'train' | 'all';
}

interface Measured {
  before: number[];
  after: number[];
}

export interface FactEvaluation {
  factId: string;
  relation: string;
  neurons: Neuron[];
  /** Per prompt and layer: the integrated-gradients completeness check (empty for the activation baseline). */
  completeness: Array<{ layer: number; delta: number; relError: number; absolute: boolean }>;
  own: { suppress: Measured; amplify: Measured };
  other: { factId: string; suppress: Measured; amplify: Measured };
}

export interface ChangeSummary {
  /** Official: mean(P_after − P_before) / mean(P_before), per relation, then averaged over relations. */
  ratioOfMeans: number;
  /** EleutherAI: mean over facts of the mean per-prompt (after − before)/before. */
  meanOfRatios: number;
}

export interface InterventionEvaluation {
  settings: InterventionEvaluationOptions;
  facts: number;
  relations: string[];
  meanNeurons: number;
  factsWithoutNeurons: number;
  /** Facts the model cannot pose (e.g. BERT and an answer of several word pieces), with the reason; they are not in the table. */
  skipped: Array<{ factId: string; reason: string }>;
  /** Share of knowledge neurons per layer. */
  layerShare: number[];
  suppress: { own: ChangeSummary; other: ChangeSummary };
  amplify: { own: ChangeSummary; other: ChangeSummary };
  perRelation: Array<{ relation: string; facts: number; meanNeurons: number; suppressOwn: number; suppressOther: number; amplifyOwn: number; amplifyOther: number }>;
  perFact: FactEvaluation[];
  seconds: number;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const ratioOfMeans = (m: Measured) => (mean(m.before) > 0 ? (mean(m.after) - mean(m.before)) / mean(m.before) : 0);
const meanOfRatios = (m: Measured) => mean(m.before.map((b, i) => (b > 0 ? (m.after[i] - b) / b : 0)));

export async function evaluateInterventions(
  model: FactModel,
  set: FactSet,
  facts: Fact[],
  options: InterventionEvaluationOptions,
  callbacks: AttributionCallbacks = {},
): Promise<InterventionEvaluation> {
  const started = performance.now();
  const rng = makeRng(options.seed);
  const relations = relationsById(set);
  const split = options.split ?? 'all';
  const posed = new Map<string, FactItem[] | { reason: string }>();
  /** The fact's items, or the reason the model cannot pose it (e.g. BERT and an answer of several word pieces). */
  const itemsOf = (fact: Fact): FactItem[] | { reason: string } => {
    let entry = posed.get(fact.id);
    if (!entry) {
      try {
        entry = model.items(fact, relations.get(fact.relation), split);
        if (entry.length === 0) entry = { reason: `no prompts in split "${split}"` };
      } catch (err) {
        if (!(err instanceof FactlabError)) throw err;
        entry = { reason: err.message };
      }
      posed.set(fact.id, entry);
    }
    return entry;
  };
  const skipped: InterventionEvaluation['skipped'] = [];
  const perFact: FactEvaluation[] = [];
  for (const [k, fact] of facts.entries()) {
    throwIfAborted(callbacks.signal, 'evaluation');
    const items = itemsOf(fact);
    if (!Array.isArray(items)) {
      skipped.push({ factId: fact.id, reason: items.reason });
      continue;
    }
    const found = await model.factNeurons(items, options, { signal: callbacks.signal });
    const neurons = found.refined.neurons.map((n) => [n.layer, n.index] as Neuron);
    const other = pickOther(set, fact, rng, (f) => Array.isArray(itemsOf(f)));
    const otherItems = itemsOf(other) as FactItem[];
    const measure = async (list: FactItem[], scale: number): Promise<Measured> => ({
      before: (await model.answerProbs(list)).map((p) => p.prob),
      after: (await model.answerProbs(list, { neurons, scale, site: found.attribution.site })).map((p) => p.prob),
    });
    perFact.push({
      factId: fact.id,
      relation: fact.relation,
      neurons,
      completeness: found.perPrompt.flatMap((p) => p.completeness),
      own: { suppress: await measure(items, 0), amplify: await measure(items, 2) },
      other: { factId: other.id, suppress: await measure(otherItems, 0), amplify: await measure(otherItems, 2) },
    });
    callbacks.onProgress?.({ fraction: (k + 1) / facts.length, stage: `fact ${k + 1}/${facts.length}` });
  }
  return { ...summarize(model.nLayer, options, perFact, (performance.now() - started) / 1000), skipped };
}

/** A random fact of another relation that the model can pose (the first draw, as before, when it can). */
function pickOther(set: FactSet, fact: Fact, rng: Rng, poseable: (f: Fact) => boolean): Fact {
  const others = set.facts.filter((f) => f.relation !== fact.relation);
  for (let tries = 0; tries < 100 && others.length > 0; tries++) {
    const other = others[Math.floor(rng() * others.length)];
    if (poseable(other)) return other;
  }
  throw new FactlabError('bad-facts', `No fact of another relation than ${fact.relation} can be posed to this model, so there is no control.`);
}

function summarize(nLayer: number, settings: InterventionEvaluationOptions, perFact: FactEvaluation[], seconds: number): Omit<InterventionEvaluation, 'skipped'> {
  const relationIds = [...new Set(perFact.map((f) => f.relation))].sort();
  const pooled = (facts: FactEvaluation[], pick: (f: FactEvaluation) => Measured): Measured => ({
    before: facts.flatMap((f) => pick(f).before),
    after: facts.flatMap((f) => pick(f).after),
  });
  const summary = (pick: (f: FactEvaluation) => Measured): ChangeSummary => ({
    ratioOfMeans: mean(relationIds.map((r) => ratioOfMeans(pooled(perFact.filter((f) => f.relation === r), pick)))),
    meanOfRatios: mean(perFact.map((f) => meanOfRatios(pick(f)))),
  });
  const layerCounts = new Array(nLayer).fill(0);
  for (const f of perFact) for (const [layer] of f.neurons) layerCounts[layer]++;
  const totalNeurons = layerCounts.reduce((a, b) => a + b, 0);
  return {
    settings,
    facts: perFact.length,
    relations: relationIds,
    meanNeurons: mean(perFact.map((f) => f.neurons.length)),
    factsWithoutNeurons: perFact.filter((f) => f.neurons.length === 0).length,
    layerShare: layerCounts.map((c) => (totalNeurons ? c / totalNeurons : 0)),
    suppress: { own: summary((f) => f.own.suppress), other: summary((f) => f.other.suppress) },
    amplify: { own: summary((f) => f.own.amplify), other: summary((f) => f.other.amplify) },
    perRelation: relationIds.map((relation) => {
      const facts = perFact.filter((f) => f.relation === relation);
      return {
        relation,
        facts: facts.length,
        meanNeurons: mean(facts.map((f) => f.neurons.length)),
        suppressOwn: ratioOfMeans(pooled(facts, (f) => f.own.suppress)),
        suppressOther: ratioOfMeans(pooled(facts, (f) => f.other.suppress)),
        amplifyOwn: ratioOfMeans(pooled(facts, (f) => f.own.amplify)),
        amplifyOther: ratioOfMeans(pooled(facts, (f) => f.other.amplify)),
      };
    }),
    perFact,
    seconds,
  };
}

/** The facts a model can be asked (a masked model: those whose object is one word piece). */
export function poseableFacts(model: FactModel, set: FactSet): Fact[] {
  const relations = relationsById(set);
  return set.facts.filter((fact) => {
    try {
      return model.items(fact, relations.get(fact.relation)).length > 0;
    } catch (err) {
      if (err instanceof FactlabError) return false;
      throw err;
    }
  });
}

/** A deterministic sample of facts spread over relations (round-robin over shuffled relations). */
export function sampleFacts(set: FactSet, count: number, seed: number, relations?: string[]): Fact[] {
  const rng = makeRng(seed);
  const byRelation = new Map<string, Fact[]>();
  for (const f of set.facts) if (!relations || relations.includes(f.relation)) byRelation.set(f.relation, [...(byRelation.get(f.relation) ?? []), f]);
  const pools = [...byRelation.values()].map((facts) => facts.map((f) => [rng(), f] as const).sort((a, b) => a[0] - b[0]).map(([, f]) => f));
  const out: Fact[] = [];
  for (let round = 0; out.length < count && pools.some((p) => p.length > round); round++) {
    for (const pool of pools) if (pool[round] && out.length < count) out.push(pool[round]);
  }
  return out;
}
