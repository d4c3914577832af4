/**
 * Trains factlab's BERT default model: a small BERT masked LM that knows the default fact set
 * (the masked-LM counterpart of train-default.ts, same size and budget).
 *
 *   npm run train:bert [-- --steps N --seed S --resume --stop-after N --out DIR]
 *
 * Reproducible: the vocabulary is a function of the training text, the initial weights and
 * every batch (rows and masked positions) of (seed, step), so a resumed run equals an
 * uninterrupted one. Checkpoints (weights + AdamW moments) go to .cache/train-bert/ (or --cache).
 */
import type * as tf from '@tensorflow/tfjs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { initNodeBackend } from '../src/cli/node-backend';
import type { BertConfig } from '../src/core/model/bert-config';
import { WordPiece } from '../src/core/tokenizers/wordpiece';
import { writeBertModelFolder } from './lib/bert-checkpoint';
import { loadBertTrainingData, maskedFactTexts, oneWordObjects, vocabularyTexts } from './lib/bert-model-data';
import { evaluateBertModel, withSnapshotWeights, writeBertModelCard } from './lib/bert-model-eval';
import { BERT_GRADIENTS, initialBertParams, maskedBatchAt, type MaskingSettings } from './lib/bert-train';
import { loadTrainingCheckpoint, saveTrainingCheckpoint, trainingClock } from './lib/checkpoint-io';
import { runTrainingLoop } from './lib/train-loop';
import { newOptimizerState, type AdamWSettings } from './lib/train-optim';
import { ParallelTrainer } from './lib/train-parallel';
import { BERT_SPECIAL_TOKENS, buildWordPieceVocab } from './lib/wordpiece-vocab';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: 'public/models/bert-default' },
    steps: { type: 'string', default: '1800' },
    seed: { type: 'string', default: '1318' },
    resume: { type: 'boolean', default: false },
    /** Train at most this many steps in this run, save a checkpoint and exit (continue with --resume). */
    'stop-after': { type: 'string' },
    'save-every': { type: 'string', default: '250' },
    'eval-every': { type: 'string', default: '500' },
    /** Where resumable checkpoints go (tests use a temporary one, so they never touch a real run's). */
    cache: { type: 'string', default: '.cache/train-bert' },
    'learning-rate': { type: 'string', default: '2e-3' },
  },
});

export const SETTINGS = {
  seed: Number(args.seed),
  steps: Number(args.steps),
  vocabSize: 4096,
  nLayer: 4,
  hiddenSize: 128,
  nHead: 4,
  intermediateSize: 512,
  maxPositions: 64,
  factsPerBatch: 48,
  textPerBatch: 16,
  maxTextTokens: 24,
  masking: { maskRate: 0.15, maskTokenShare: 0.8, randomTokenShare: 0.1, answerWeight: 3 } satisfies MaskingSettings,
  adamw: { learningRate: Number(args['learning-rate']), warmupSteps: 100, totalSteps: Number(args.steps), minLearningRateFraction: 0.05, weightDecay: 0.01, beta1: 0.9, beta2: 0.98, epsilon: 1e-8 } satisfies AdamWSettings,
};

const CACHE = args.cache!;

function modelConfig(): BertConfig {
  const s = SETTINGS;
  return {
    arch: 'bert', vocabSize: s.vocabSize, hiddenSize: s.hiddenSize, nLayer: s.nLayer, nHead: s.nHead, intermediateSize: s.intermediateSize,
    maxPositions: s.maxPositions, typeVocabSize: 2, layerNormEpsilon: 1e-12, activation: 'gelu', padTokenId: 0,
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const since = { wall: started, cpu: process.cpuUsage() };
  const loadAtStart = loadavg()[0];
  await initNodeBackend('wasm');
  const config = modelConfig();

  // 1. Vocabulary: cased WordPiece from the training text only, every one-word object whole.
  const objects = oneWordObjects();
  const candidates = maskedFactTexts((object) => objects.includes(object));
  const vocab = buildWordPieceVocab(vocabularyTexts(candidates), { vocabSize: SETTINGS.vocabSize, required: objects });
  if (vocab.length !== SETTINGS.vocabSize) throw new Error(`the vocabulary builder made ${vocab.length} tokens, not ${SETTINGS.vocabSize}`);
  const tokenizer = new WordPiece(vocab, { lowercase: false });
  // The runtime tokenizer must see each object as exactly the one token the vocabulary holds.
  const facts = maskedFactTexts((object) => tokenizer.tokenize(object).length === 1);
  if (facts.train.length !== candidates.train.length) throw new Error('a one-word object is not one token of the built vocabulary');
  const data = loadBertTrainingData(tokenizer, facts, SETTINGS.maxTextTokens);
  const factCount = new Set(facts.train.map((f) => f.factId)).size;
  console.log(`vocabulary ${vocab.length} (${objects.length} objects whole); ${factCount} facts, ${facts.skipped.length} skipped (object of several pieces)`);
  console.log(`data: ${data.facts.length} training prompts, ${data.heldOut.length} held-out prompts, ${data.text.length} text lines`);

  // 2. Model and optimiser (or resume).
  const params = initialBertParams(config, SETTINGS.seed);
  const state = newOptimizerState(params);
  const resumed = args.resume ? loadTrainingCheckpoint(CACHE, SETTINGS.seed, params, state) : { step: 0, clock: { wallMinutes: 0, cpuMinutes: 0 } };
  let step = resumed.step;
  if (step > 0) console.log(`resumed at step ${step} (${resumed.clock.wallMinutes.toFixed(1)} min of training so far)`);

  // 3. Train.
  const batchOptions = {
    seed: SETTINGS.seed, factsPerBatch: SETTINGS.factsPerBatch, textPerBatch: SETTINGS.textPerBatch, masking: SETTINGS.masking,
    maskId: tokenizer.maskId, padId: config.padTokenId, firstOrdinaryId: BERT_SPECIAL_TOKENS.length, vocabSize: config.vocabSize,
  };
  const trainer = await ParallelTrainer.start(BERT_GRADIENTS, config, params);
  step = await runTrainingLoop({
    trainer, params, state, adamw: SETTINGS.adamw, totalSteps: SETTINGS.steps, startStep: step,
    stopAfter: args['stop-after'] ? Number(args['stop-after']) : undefined,
    batchAt: (s) => maskedBatchAt(data, s, batchOptions),
    saveEvery: Number(args['save-every']),
    evalEvery: Number(args['eval-every']),
    save: (s) => saveTrainingCheckpoint(CACHE, s, SETTINGS.seed, params, state, trainingClock(resumed.clock, since)),
    evaluate: async () => {
      const quick = await withSnapshotWeights(config, params, (weights) => evaluateBertModel({ weights, tokenizer }, facts, { sample: 300, seed: SETTINGS.seed, maxTextTokens: SETTINGS.maxTextTokens }));
      const q = quick.summary;
      console.log(`  eval: train top-1 ${(100 * q.trainAccuracy).toFixed(1)}%  held-out top-1 ${(100 * q.heldOutAccuracy).toFixed(1)}%  mean P(object) ${q.trainMeanProb.toFixed(3)}`);
    },
    started,
  });
  await trainer.stop();
  if (step < SETTINGS.steps) {
    console.log(`stopped at step ${step} of ${SETTINGS.steps}; the checkpoint is in ${CACHE}: continue with --resume`);
    return;
  }
  const clock = trainingClock(resumed.clock, since);
  const load = { atStart: loadAtStart, atEnd: loadavg()[0] };

  // 4. Write the model folder, then measure it through the loader the lab uses.
  writeBertModelFolder(args.out!, config, params as Map<string, tf.Tensor>, vocab, {
    lowercase: false,
    metadata: { description: 'factlab BERT default model: a small BERT masked LM trained on the default fact set and WordNet text', seed: String(SETTINGS.seed), steps: String(SETTINGS.steps) },
  });
  const report = await evaluateBertModel(args.out!, facts, { seed: SETTINGS.seed, maxTextTokens: SETTINGS.maxTextTokens });
  const parameters = [...params.values()].reduce((a, p) => a + p.size, 0);
  writeBertModelCard(args.out!, { settings: SETTINGS, config, parameters, textLines: data.text.length, vocab: { size: vocab.length, requiredObjects: objects.length }, report, clock, load });
  console.log(JSON.stringify(report.summary, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
