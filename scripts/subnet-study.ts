/**
 * Knowledge-critical subnetworks on the default model (issue #7): for each target set, train
 * a mask, evaluate the remaining model against the full model and against the random-mask
 * baseline of the same size per module, and write one JSON result.
 *
 *   npm run study:subnet [-- --steps 700 --sets capitals-europe,currency-euro,hypernym-containers
 *                            --seed 1318 --layers 2-3 --lambda-reg 2,3 [--all-tail-tokens]
 *                            --out results/subnet-study.json]
 *   (README: the exact commands behind results/subnet-study.json)
 *   npm run study:subnet -- --merge a.json,b.json --out results/subnet-study.json
 *
 * Each set is independent, so sets can run as separate processes (one --sets each) and be
 * merged into one result afterwards with --merge.
 *
 * TargetKG: one group of facts of the default library (first prompt of each fact, as the
 * code's one verbalization per triplet). ControlKG: every other fact of the library; a seeded
 * sample of 200 is held out for evaluation and never trained on. ControlLM: the WordNet gloss
 * corpus (data/corpus) in blocks of the model's 64 positions: train.txt for training, the first
 * 20% of valid.txt's blocks for evaluation (the code: WikiText-2 test[:20%]).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL_DIR, loadGpt2Engine, parseLayerRange } from '../src/cli/common';
import type { Fact } from '../src/core/facts/types';
import { loadFactSetFile } from '../src/cli/facts-file';
import { makeRng, shuffleInPlace } from '../src/core/random';
import { binaryFromState } from '../src/core/subnetwork/binary';
import { kgItemsFromFacts, lmBlocks } from '../src/core/subnetwork/data';
import { disposeMaskState } from '../src/core/subnetwork/mask';
import { evaluateSubnetwork } from '../src/core/subnetwork/metrics';
import { assertDisjointFacts, complementOf } from '../src/core/subnetwork/sets';
import { trainSubnetwork } from '../src/core/subnetwork/trainer';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '700' },
    merge: { type: 'string' },
    sets: { type: 'string', default: 'capitals-europe,currency-euro,hypernym-containers' },
    seed: { type: 'string', default: '1318' },
    layers: { type: 'string' },
    'control-eval': { type: 'string', default: '200' },
    /** ControlKG sentences and ControlLM blocks per step (the code: 250 and 10; recorded as deviations when they differ). */
    'control-batch': { type: 'string', default: '64' },
    'lm-batch': { type: 'string', default: '4' },
    'all-tail-tokens': { type: 'boolean', default: false },
    /** λ_reg as `init,final` (the code: 2,3); recorded as a deviation when it differs. */
    'lambda-reg': { type: 'string', default: '2,3' },
    out: { type: 'string', default: 'results/subnet-study.json' },
  },
});

type Library = Fact[];
const continentOf = (library: Library) => new Map(library.filter((f) => f.relation === 'continent_of').map((f) => [f.subject, f.object]));

/** Target groups of the default library, each a real group: one continent's capitals, one currency, one WordNet hypernym group. */
const TARGET_SETS: Record<string, { description: string; select: (library: Library) => Fact[] }> = {
  'capitals-europe': {
    description: 'capital_of facts of the countries whose continent_of is Europe',
    select: (library) => {
      const continent = continentOf(library);
      return library.filter((f) => f.relation === 'capital_of' && continent.get(f.subject) === 'Europe');
    },
  },
  'capitals-south-america': {
    description: 'capital_of facts of the countries whose continent_of is South America',
    select: (library) => {
      const continent = continentOf(library);
      return library.filter((f) => f.relation === 'capital_of' && continent.get(f.subject) === 'South America');
    },
  },
  'currency-euro': { description: 'currency_of facts whose object is euro', select: (library) => library.filter((f) => f.relation === 'currency_of' && f.object === 'euro') },
  'currency-franc': { description: 'currency_of facts whose object is franc', select: (library) => library.filter((f) => f.relation === 'currency_of' && f.object === 'franc') },
  'language-spanish': { description: 'language_of facts whose object is Spanish', select: (library) => library.filter((f) => f.relation === 'language_of' && f.object === 'Spanish') },
  'hypernym-containers': {
    description: 'hypernym_of facts whose WordNet hypernym is container, vessel or structure',
    select: (library) => library.filter((f) => f.relation === 'hypernym_of' && ['container', 'vessel', 'structure'].includes(f.object)),
  },
};

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Every 10th step of the training curve (and the last): the whole curve would make the result ~1 MB. */
function thinned<T extends { training: { curve: Array<{ step: number }>; steps: number } }>(result: T): T {
  const curve = result.training.curve.filter((r) => r.step % 10 === 0 || r.step === result.training.steps);
  return { ...result, training: { ...result.training, curve } };
}

function writeResult(out: object): void {
  mkdirSync(dirname(args.out!), { recursive: true });
  writeFileSync(args.out!, `${JSON.stringify(out, null, 1)}\n`);
  log(`wrote ${args.out}`);
}

/**
 * One result from the results of separate runs on the same model, their sets concatenated. When
 * the runs' study settings differ (e.g. --all-tail-tokens for one set), each set keeps its own.
 */
function merge(files: string[]): void {
  const parts = files.map((f) => JSON.parse(readFileSync(f, 'utf8')));
  if (parts.some((p) => p.model !== parts[0].model)) throw new Error('the results to merge are of different models');
  const same = parts.every((p) => JSON.stringify(p.settings) === JSON.stringify(parts[0].settings));
  const results = parts.flatMap((p) => p.results.map((r: Parameters<typeof thinned>[0]) => ({ ...thinned(r), ...(same ? {} : { studySettings: p.settings }) })));
  writeResult({ ...parts[0], settings: same ? parts[0].settings : 'per set (studySettings)', date: new Date().toISOString(), results });
}

async function main(): Promise<void> {
  if (args.merge) return merge(args.merge.split(','));
  const steps = Number(args.steps);
  const seed = Number(args.seed);
  const [regInit, regFinal] = args['lambda-reg']!.split(',').map(Number);
  if (!(regInit >= 0 && regFinal >= 0)) throw new Error(`--lambda-reg wants two numbers ≥ 0 as init,final (e.g. 2,3), got ${args['lambda-reg']}`);
  const engine = await loadGpt2Engine('default', 'wasm', 'subnetwork');
  const set = loadFactSetFile('default');
  const nPositions = engine.weights.config.nPositions;
  const tokens = (file: string) => engine.tokenizer.encode(readFileSync(join('data/corpus', file), 'utf8'));
  const lmTrain = tokens('train.txt');
  const lmEvalBlocks = lmBlocks(tokens('valid.txt'), nPositions);
  const lmEval = lmEvalBlocks.slice(0, Math.ceil(lmEvalBlocks.length * 0.2));
  const range = args.layers ? parseLayerRange(args.layers, engine.weights.config.nLayer) : undefined;
  const layers = range ? Array.from({ length: range[1] - range[0] + 1 }, (_, i) => range[0] + i) : undefined;
  const items = (facts: Fact[]) => kgItemsFromFacts(engine.tokenizer, set, facts);
  const results = [];
  for (const name of args.sets!.split(',')) {
    const definition = TARGET_SETS[name];
    if (!definition) throw new Error(`unknown target set ${name}; known: ${Object.keys(TARGET_SETS).join(', ')}`);
    const targetFacts = definition.select(set.facts);
    const controlFacts = shuffleInPlace(complementOf(set.facts, targetFacts), makeRng(seed));
    assertDisjointFacts(targetFacts, controlFacts);
    const controlEvalFacts = controlFacts.slice(0, Number(args['control-eval']));
    const controlTrainFacts = controlFacts.slice(controlEvalFacts.length);
    const target = items(targetFacts);
    const controlEval = items(controlEvalFacts);
    log(`${name}: ${target.length} target facts, ${controlTrainFacts.length} control (train), ${controlEval.length} control (eval), ${steps} steps`);
    const options = { steps, seed, layers, controlLmBlock: nPositions, controlKgBatch: Number(args['control-batch']), controlLmBatch: Number(args['lm-batch']), scoreAllTailTokens: args['all-tail-tokens'], lambdaReg: { init: regInit, final: regFinal }, modelId: engine.info.id };
    const { result, state } = await trainSubnetwork(
      engine.weights,
      { target, controlKg: items(controlTrainFacts), controlKgEval: controlEval.slice(0, 50), controlLmTokens: lmTrain },
      options,
      {
        onProgress: (e) => {
          if (e.kind === 'eval') log(`  step ${e.record.step}: sparsity ${(100 * e.record.sparsity).toFixed(3)}%, target top-1 ${(100 * e.record.target.top1).toFixed(1)}% (facts ${(100 * e.record.target.answerTop1).toFixed(1)}%) P ${e.record.target.meanProb.toFixed(3)}, control top-1 ${(100 * e.record.control.top1).toFixed(1)}%`);
          if (e.kind === 'step' && e.record.step % 20 === 0) {
            const l = e.record.losses;
            log(`  step ${e.record.step}/${e.steps} ${e.seconds.toFixed(0)} s: suppress ${l.suppress?.toFixed(3)} controlKg ${l.controlKg?.toFixed(4)} controlLm ${l.controlLm?.toFixed(4)} density ${l.density.toFixed(4)}`);
          }
        },
      },
    );
    const mask = await binaryFromState(state);
    disposeMaskState(state);
    const evaluation = await evaluateSubnetwork(engine.weights, mask, { target, controlKg: controlEval, controlLm: lmEval }, { randomSeed: seed, subnetwork: true, scoreAllTailTokens: args['all-tail-tokens'] });
    const relative = (delta: number, full: number) => delta / full;
    const summary = {
      sparsityPercent: 100 * evaluation.sparsity.sparsity,
      targetDeltaPpl: evaluation.delta.target,
      targetTop1Full: evaluation.full.target.top1,
      targetTop1Remaining: evaluation.remaining.target.top1,
      targetTop1DropPoints: 100 * (evaluation.full.target.top1 - evaluation.remaining.target.top1),
      // A fact's top-1: every answer token the argmax (teacher-forced), whichever tokens were trained on.
      targetAnswerTop1Full: evaluation.full.target.answerTop1,
      targetAnswerTop1Remaining: evaluation.remaining.target.answerTop1,
      targetAnswerTop1DropPoints: 100 * (evaluation.full.target.answerTop1 - evaluation.remaining.target.answerTop1),
      controlKgRelative: relative(evaluation.delta.controlKg, evaluation.full.controlKg.ppl),
      controlLmRelative: relative(evaluation.delta.controlLm!, evaluation.full.controlLm!.ppl),
      random: {
        targetDeltaPpl: evaluation.random!.delta.target,
        targetTop1DropPoints: 100 * (evaluation.full.target.top1 - evaluation.random!.scores.target.top1),
        targetAnswerTop1DropPoints: 100 * (evaluation.full.target.answerTop1 - evaluation.random!.scores.target.answerTop1),
        controlKgRelative: relative(evaluation.random!.delta.controlKg, evaluation.full.controlKg.ppl),
        controlLmRelative: relative(evaluation.random!.delta.controlLm!, evaluation.full.controlLm!.ppl),
      },
      trainingSeconds: result.seconds,
    };
    const criteria = {
      sparsityAtLeast98: summary.sparsityPercent >= 98,
      targetFactsTop1FallsBy50Points: summary.targetAnswerTop1DropPoints >= 50,
      // ΔPPL measures harm: a lower PPL than the full model's is no harm, so the bound is on the increase.
      controlKgIncreaseAtMost10Percent: summary.controlKgRelative <= 0.1,
      controlLmIncreaseAtMost10Percent: summary.controlLmRelative <= 0.1,
      randomDoesClearlyLess: summary.random.targetDeltaPpl < 0.1 * summary.targetDeltaPpl && summary.random.targetAnswerTop1DropPoints < 0.5 * summary.targetAnswerTop1DropPoints,
    };
    log(`${name}: ${JSON.stringify(summary)}\n  criteria ${JSON.stringify(criteria)}`);
    results.push(thinned({ name, description: definition.description, facts: targetFacts.map((f) => f.id), summary, criteria, evaluation, training: result }));
  }
  const out = { study: 'knowledge-critical subnetworks on the default model', model: engine.info.id, modelDir: DEFAULT_MODEL_DIR, date: new Date().toISOString(), settings: { steps, seed, layers: layers ?? 'default', controlEval: Number(args['control-eval']), controlBatch: Number(args['control-batch']), lmBatch: Number(args['lm-batch']), allTailTokens: args['all-tail-tokens'], lambdaReg: [regInit, regFinal] }, results };
  writeResult(out);
  engine.dispose();
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
