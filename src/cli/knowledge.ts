/** `factlab attribute | neurons | intervene | evaluate`: knowledge neurons from the command line. */
import { FactlabError } from '../core/errors';
import type { Engine } from '../core/engine';
import type { AttributionSettings, NeuronSite } from '../core/knowledge/attribution';
import { evaluateInterventions, poseableFacts, sampleFacts } from '../core/knowledge/evaluate';
import type { NeuronMethod } from '../core/knowledge/neurons';
import { autoTuneP, parseNeuronList, REFINE_PRESETS, type RefinePreset, type RefineSettings } from '../core/knowledge/refine';
import { IG_BASELINES, RULES, type IgBaseline, type RiemannRule } from '../core/knowledge/riemann';
import { loadFactSetFile, selectFacts } from './facts-file';
import { loadEngine, parseCommandArgs, parseLayerRange, parsePositiveInt, printJson } from './common';
import { factItems } from './fact-items';

const ATTRIBUTION_OPTIONS = {
  model: { type: 'string' },
  steps: { type: 'string' },
  rule: { type: 'string' },
  site: { type: 'string' },
  layers: { type: 'string' },
  baseline: { type: 'string' },
} as const;

const REFINE_OPTIONS = {
  preset: { type: 'string' },
  t: { type: 'string' },
  p: { type: 'string' },
  method: { type: 'string' },
} as const;

export function attributionSettings(args: { steps?: string; rule?: string; site?: string; layers?: string; baseline?: string }, nLayer: number): Partial<AttributionSettings> {
  const settings: Partial<AttributionSettings> = {};
  if (args.steps !== undefined) settings.steps = parsePositiveInt(args.steps, '--steps', 20, 1000);
  if (args.rule !== undefined) {
    if (!(RULES as readonly string[]).includes(args.rule)) throw new FactlabError('usage', `--rule must be one of ${RULES.join(', ')}.`);
    settings.rule = args.rule as RiemannRule;
  }
  if (args.site !== undefined) {
    if (args.site !== 'post' && args.site !== 'pre') throw new FactlabError('usage', '--site must be post or pre.');
    settings.site = args.site as NeuronSite;
  }
  if (args.layers !== undefined) {
    settings.layers = parseLayerRange(args.layers, nLayer);
  }
  if (args.baseline !== undefined) settings.baseline = igBaseline(args.baseline, '--baseline');
  return settings;
}

export function igBaseline(text: string, flag: string): IgBaseline {
  if (!(IG_BASELINES as readonly string[]).includes(text)) throw new FactlabError('usage', `${flag} must be one of ${IG_BASELINES.join(', ')}, got "${text}".`);
  return text as IgBaseline;
}

function fraction(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(value >= 0 && value <= 1)) throw new FactlabError('usage', `${flag} must be a number from 0 to 1, got "${text}".`);
  return value;
}

export function refineSettings(args: { preset?: string; t?: string; p?: string }): RefineSettings {
  const presetName = (args.preset ?? 'project') as RefinePreset;
  const preset = REFINE_PRESETS[presetName];
  if (!preset) throw new FactlabError('usage', `--preset must be one of ${Object.keys(REFINE_PRESETS).join(', ')}.`);
  return { ...preset, t: fraction(args.t, '--t', preset.t), p: fraction(args.p, '--p', preset.p) };
}

function neuronMethod(text: string | undefined): NeuronMethod {
  if (text === undefined || text === 'ig' || text === 'activation') return (text ?? 'ig') as NeuronMethod;
  throw new FactlabError('usage', '--method must be ig or activation.');
}

async function withEngine<T>(model: string | undefined, backend: string | undefined, run: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await loadEngine(model, backend);
  try {
    return await run(engine);
  } finally {
    engine.dispose();
  }
}

export async function runAttribute(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, { ...ATTRIBUTION_OPTIONS, prompt: { type: 'string' }, target: { type: 'string' }, path: { type: 'string' } }, 'attribute');
  if (args.prompt === undefined || args.target === undefined) throw new FactlabError('usage', 'attribute needs --prompt TEXT and --target TEXT.');
  return withEngine(args.model, args.backend, async (engine) => {
    const settings = attributionSettings(args, engine.info.config.nLayer);
    if (args.path !== undefined) settings.path = args.path as AttributionSettings['path'];
    const { promptIds, targetIds } = engine.encodeFact(args.prompt!, args.target!);
    const result = await engine.attribute(promptIds, targetIds, settings);
    const out = {
      model: engine.info.id,
      settings: result.settings,
      tokens: engine.tokenView(promptIds),
      target: { text: engine.targetIds(args.prompt, args.target!).text, ids: targetIds },
      layers: result.layers.map((l) => l.layer),
      width: result.width,
      attributions: result.layers.map((l) => Array.from(l.scores)),
      pFull: result.pFull,
      tokenProbs: result.tokenProbs,
      completeness: result.layers.map((l) => ({ layer: l.layer, sum: l.sum, delta: l.delta, relError: l.relError, absolute: l.absolute })),
      seconds: result.seconds,
    };
    if (args.json) printJson(out);
    else {
      process.stdout.write(`P(target) = ${result.pFull.toExponential(4)}  (${result.seconds.toFixed(2)} s)\n`);
      for (const l of result.layers) {
        let best = 0;
        for (let i = 1; i < l.scores.length; i++) if (l.scores[i] > l.scores[best]) best = i;
        process.stdout.write(`layer ${l.layer}: top neuron ${best} (${l.scores[best].toExponential(3)}), completeness error ${(100 * l.relError).toFixed(2)}%\n`);
      }
    }
    return 0;
  });
}

export async function runNeurons(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, { ...ATTRIBUTION_OPTIONS, ...REFINE_OPTIONS, facts: { type: 'string' }, ids: { type: 'string' }, split: { type: 'string' }, 'auto-tune-p': { type: 'boolean' } }, 'neurons');
  const set = loadFactSetFile(args.facts);
  const facts = selectFacts(set, args.ids);
  return withEngine(args.model, args.backend, async (engine) => {
    const attribution = attributionSettings(args, engine.info.config.nLayer);
    const refine = refineSettings(args);
    const method = neuronMethod(args.method);
    const found = [];
    for (const fact of facts) {
      const items = factItems(engine, set, fact, args.split);
      found.push({ fact, prompts: items.length, result: await engine.factModel.factNeurons(items, { method, attribution, refine }) });
    }
    // Official per-relation tuning of p toward 2–5 neurons per fact (re-refines the same scores).
    const tunedP: Record<string, number> = {};
    if (args['auto-tune-p']) {
      for (const relation of new Set(found.map((f) => f.fact.relation))) {
        const group = found.filter((f) => f.fact.relation === relation);
        const tuned = autoTuneP(group.map((f) => f.result.scores), found[0].result.refine);
        tunedP[relation] = tuned.p;
        group.forEach((f, i) => (f.result.refined = tuned.results[i]));
      }
    }
    const results = found.map(({ fact, prompts, result }) => ({
      id: fact.id,
      relation: fact.relation,
      subject: fact.subject,
      object: fact.object,
      prompts,
      neurons: result.refined.neurons.map((n) => [n.layer, n.index]),
      counts: result.refined.neurons.map((n) => n.count),
      required: result.refined.required,
      p: result.refined.settings.p,
      seconds: result.seconds,
    }));
    const out = { model: engine.info.id, method, attribution: { ...attribution }, refine, tunedP: args['auto-tune-p'] ? tunedP : undefined, facts: results, meanNeurons: results.reduce((a, r) => a + r.neurons.length, 0) / Math.max(results.length, 1) };
    if (args.json) printJson(out);
    else for (const r of results) process.stdout.write(`${r.id}: ${JSON.stringify(r.neurons)}\n`);
    return 0;
  });
}

export async function runIntervene(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, { model: { type: 'string' }, prompt: { type: 'string' }, target: { type: 'string' }, neurons: { type: 'string' }, mode: { type: 'string' }, site: { type: 'string' } }, 'intervene');
  if (args.prompt === undefined || args.target === undefined || args.neurons === undefined) throw new FactlabError('usage', 'intervene needs --prompt, --target and --neurons L:I,…');
  const scale = parseMode(args.mode ?? 'suppress');
  const site = (args.site ?? 'post') as NeuronSite;
  if (site !== 'post' && site !== 'pre') throw new FactlabError('usage', '--site must be post or pre.');
  return withEngine(args.model, args.backend, async (engine) => {
    const neurons = parseNeuronList(args.neurons!, engine.info.shape.nLayer, engine.info.shape.nInner);
    const [{ before, after }] = await engine.intervene({ items: [{ prompt: args.prompt!, target: args.target! }], neurons, scale, site });
    const out = { model: engine.info.id, neurons, scale, site, before, after, change: before.prob > 0 ? (after.prob - before.prob) / before.prob : 0 };
    if (args.json) printJson(out);
    else process.stdout.write(`P before ${before.prob.toExponential(4)}, after ${after.prob.toExponential(4)} (${(100 * out.change).toFixed(1)}%)\n`);
    return 0;
  });
}

export function parseMode(mode: string): number {
  if (mode === 'suppress') return 0;
  if (mode === 'amplify') return 2;
  const match = /^scale=(-?\d+(?:\.\d+)?)$/.exec(mode);
  if (match) return Number(match[1]);
  throw new FactlabError('usage', `--mode must be suppress, amplify or scale=F (e.g. scale=0.5), got "${mode}".`);
}

export async function runEvaluate(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, { ...ATTRIBUTION_OPTIONS, ...REFINE_OPTIONS, facts: { type: 'string' }, count: { type: 'string' }, seed: { type: 'string' }, relations: { type: 'string' }, split: { type: 'string' } }, 'evaluate');
  const set = loadFactSetFile(args.facts);
  const count = parsePositiveInt(args.count, '--count', 100, 100_000);
  const seed = args.seed === undefined ? 42 : Number(args.seed);
  if (sampleFacts(set, 1, seed, args.relations?.split(',')).length === 0) throw new FactlabError('usage', 'No facts match --relations.');
  return withEngine(args.model, args.backend, async (engine) => {
    // A masked model is asked only facts with one-piece answers; the rest are not sampled.
    const facts = sampleFacts({ ...set, facts: poseableFacts(engine.factModel, set) }, count, seed, args.relations?.split(','));
    const options = { method: neuronMethod(args.method), attribution: attributionSettings(args, engine.info.config.nLayer), refine: refineSettings(args), seed, split: (args.split ?? 'all') as 'train' | 'all' };
    const result = await evaluateInterventions(engine.factModel, set, facts, options, {
      onProgress: (p) => process.stderr.isTTY && process.stderr.write(`\r${p.stage}   `),
    });
    const { perFact, ...summary } = result;
    if (args.json) printJson({ model: engine.info.id, ...summary, perFact: perFact.map((f) => ({ id: f.factId, neurons: f.neurons })) });
    else {
      const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
      process.stdout.write(`${result.facts} facts, ${result.relations.length} relations, ${result.meanNeurons.toFixed(2)} neurons per fact\n`);
      process.stdout.write(`suppress: own ${pct(result.suppress.own.ratioOfMeans)}, other ${pct(result.suppress.other.ratioOfMeans)}\n`);
      process.stdout.write(`amplify:  own ${pct(result.amplify.own.ratioOfMeans)}, other ${pct(result.amplify.other.ratioOfMeans)}\n`);
    }
    return 0;
  });
}

