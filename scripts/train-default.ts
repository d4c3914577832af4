/**
 * Trains factlab's embedded default model: a small GPT-2 that knows the default fact set.
 *
 *   npm run train:default [-- --steps N --seed S --resume --stop-after N --out DIR]
 *
 * Reproducible: the tokenizer, the initial weights and every batch are functions of the
 * seed (a batch depends only on (seed, step)), so a resumed run equals an uninterrupted one.
 * Checkpoints (weights + AdamW moments) go to .cache/train-default/ (or --cache) every --save-every steps.
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { initNodeBackend } from '../src/cli/node-backend';
import type { Gpt2Config } from '../src/core/model/config';
import { gpt2ParamShapes, type Gpt2Weights } from '../src/core/model/weights';
import { makeRng, normal } from '../src/core/random';
import { ByteLevelBpe } from '../src/core/tokenizers/bpe';
import { serializeMerges, serializeVocabJson, trainByteLevelBpe } from '../src/core/tokenizers/bpe-train';
import { loadTrainingCheckpoint, saveTrainingCheckpoint, writeModelFolder } from './lib/checkpoint-io';
import { evaluateDefaultModel, writeModelCard } from './lib/default-model-eval';
import { loadTrainingData, trainingTexts, type TrainingData } from './lib/default-model-data';
import { GPT2_GRADIENTS, type Batch } from './lib/train-lm';
import { runTrainingLoop } from './lib/train-loop';
import { newOptimizerState, type AdamWSettings } from './lib/train-optim';
import { ParallelTrainer } from './lib/train-parallel';
import { rowsForStep } from './lib/train-schedule';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'public/models/default' },
    steps: { type: 'string', default: '1500' },
    /** Depth of the model (the shipped default has 4; deeper ones are for studies such as DKN's). */
    layers: { type: 'string', default: '4' },
    seed: { type: 'string', default: '1318' },
    resume: { type: 'boolean', default: false },
    /** Train at most this many steps in this run, save a checkpoint and exit (continue with --resume). */
    'stop-after': { type: 'string' },
    'save-every': { type: 'string', default: '250' },
    'eval-every': { type: 'string', default: '500' },
    /** Where resumable checkpoints go (tests use a temporary one, so they never touch a real run's). */
    cache: { type: 'string', default: '.cache/train-default' },
  },
});

export const SETTINGS = {
  seed: Number(args.seed),
  steps: Number(args.steps),
  vocabSize: 4096,
  nLayer: Number(args.layers),
  nEmbd: 128,
  nHead: 4,
  nPositions: 64,
  factsPerBatch: 48,
  textPerBatch: 16,
  maxTextTokens: 24,
  /** Loss weight of the object tokens of a fact sentence (other tokens weigh 1). */
  answerWeight: 3,
  adamw: { learningRate: 3e-3, warmupSteps: 100, totalSteps: Number(args.steps), minLearningRateFraction: 0.05, weightDecay: 0.01, beta1: 0.9, beta2: 0.98, epsilon: 1e-8 } satisfies AdamWSettings,
};

if (!Number.isInteger(SETTINGS.nLayer) || SETTINGS.nLayer < 1 || SETTINGS.nLayer > 24) {
  throw new Error(`--layers must be a whole number from 1 to 24, got "${args.layers}"`);
}
const CACHE = args.cache!;

function modelConfig(): Gpt2Config {
  const s = SETTINGS;
  return { arch: 'gpt2', vocabSize: s.vocabSize, nPositions: s.nPositions, nEmbd: s.nEmbd, nLayer: s.nLayer, nHead: s.nHead, nInner: 4 * s.nEmbd, layerNormEpsilon: 1e-5, activation: 'gelu_new', eosTokenId: s.vocabSize - 1 };
}

/** GPT-2's initialisation: N(0, 0.02) matrices, residual projections scaled by 1/√(2L), zero biases, unit gains. */
function initialParams(config: Gpt2Config, seed: number): Map<string, tf.Variable> {
  const rng = makeRng(seed);
  const params = new Map<string, tf.Variable>();
  for (const [name, shape] of gpt2ParamShapes(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (/ln_\d\.weight|ln_f\.weight/.test(name)) data.fill(1);
    else if (shape.length === 2) {
      const std = name.endsWith('c_proj.weight') ? 0.02 / Math.sqrt(2 * config.nLayer) : 0.02;
      for (let i = 0; i < size; i++) data[i] = std * normal(rng);
    }
    params.set(name, tf.variable(tf.tensor(data, shape), true, name));
  }
  return params;
}

/** The batch of a step depends only on (seed, step). */
function batchAt(data: TrainingData, step: number): Batch {
  const rows = [...rowsForStep(data.facts, SETTINGS.factsPerBatch, step, SETTINGS.seed, 1), ...rowsForStep(data.text, SETTINGS.textPerBatch, step, SETTINGS.seed, 2)];
  const width = Math.max(...rows.map((r) => r.tokens.length));
  const pad = data.eos;
  return {
    tokens: rows.map((r) => [...r.tokens, ...Array(width - r.tokens.length).fill(pad)]),
    weights: rows.map((r) => [...r.weights, ...Array(width - r.weights.length).fill(0)]),
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  await initNodeBackend('wasm');
  const config = modelConfig();

  // 1. Tokenizer: byte-level BPE trained on the training text only (never on held-out templates).
  const raw = trainingTexts();
  console.log(`training BPE (${SETTINGS.vocabSize} tokens) on ${raw.length} lines…`);
  const bpe = trainByteLevelBpe(raw, { vocabSize: SETTINGS.vocabSize, specialTokens: ['<|endoftext|>'] });
  const vocabJson = serializeVocabJson(bpe.vocab);
  const mergesText = serializeMerges(bpe.merges);
  const tokenizer = ByteLevelBpe.fromVocabAndMerges(vocabJson, mergesText);
  const data = loadTrainingData(tokenizer, { answerWeight: SETTINGS.answerWeight, maxTextTokens: SETTINGS.maxTextTokens, eos: config.eosTokenId });
  console.log(`data: ${data.facts.length} fact sentences, ${data.text.length} text lines, ${data.heldOut.length} held-out prompts`);

  // 2. Model and optimiser (or resume).
  const params = initialParams(config, SETTINGS.seed);
  const state = newOptimizerState(params);
  let step = args.resume ? loadTrainingCheckpoint(CACHE, SETTINGS.seed, params, state).step : 0;
  if (step > 0) console.log(`resumed at step ${step}`);
  const weights: Gpt2Weights = { config, params: params as unknown as Map<string, tf.Tensor> };

  // 3. Train.
  const trainer = await ParallelTrainer.start(GPT2_GRADIENTS, config, params);
  step = await runTrainingLoop({
    trainer, params, state, adamw: SETTINGS.adamw, totalSteps: SETTINGS.steps, startStep: step,
    stopAfter: args['stop-after'] ? Number(args['stop-after']) : undefined,
    batchAt: (s) => batchAt(data, s),
    saveEvery: Number(args['save-every']),
    evalEvery: Number(args['eval-every']),
    save: (s) => saveTrainingCheckpoint(CACHE, s, SETTINGS.seed, params, state),
    evaluate: async () => {
      const quick = await evaluateDefaultModel({ ...weights, unembedding: undefined }, tokenizer, { sample: 300, seed: SETTINGS.seed });
      console.log(`  eval: train top-1 ${(100 * quick.trainAccuracy).toFixed(1)}%  held-out top-1 ${(100 * quick.heldOutAccuracy).toFixed(1)}%  mean P(object) ${quick.trainMeanProb.toFixed(3)}`);
    },
    started,
  });
  await trainer.stop();
  if (step < SETTINGS.steps) {
    console.log(`stopped at step ${step} of ${SETTINGS.steps}; the checkpoint is in ${CACHE}: continue with --resume`);
    return;
  }
  const trainingMinutes = (Date.now() - started) / 60000;

  // 4. Write the model folder, then measure it through the same loader the lab uses.
  writeModelFolder(args.out!, config, weights.params, { vocabJson, mergesText }, {
    description: 'factlab default model: a small GPT-2 trained on the default fact set and WordNet text',
    seed: String(SETTINGS.seed),
    steps: String(SETTINGS.steps),
  });
  const report = await evaluateDefaultModel(args.out!, undefined, { seed: SETTINGS.seed });
  writeModelCard(args.out!, { settings: SETTINGS, config, data, report, trainingMinutes });
  console.log(JSON.stringify(report.summary, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
