/**
 * Measures the BERT default model: top-1 accuracy and P(object) at [MASK] on training and
 * held-out phrasings, per relation, and masked-token perplexity on held-out WordNet text.
 * The final report is computed on the written folder, read by the loader the lab uses.
 */
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadCheckpointFiles } from '../../src/core/hub/checkpoint';
import { maskedAnswerProbs } from '../../src/core/knowledge/bert-interventions';
import { bertForward } from '../../src/core/model/bert';
import type { BertConfig } from '../../src/core/model/bert-config';
import { bertFromCheckpointFiles, type BertModel } from '../../src/core/model/bert-model';
import { disposeBertWeights, isMultipliedWeight, type BertWeights } from '../../src/core/model/bert-weights';
import { makeRng, shuffleInPlace } from '../../src/core/random';
import { factRows, textRows, type FactRow, type MaskedFactTexts } from './bert-model-data';
import type { TrainingClock } from './checkpoint-io';

export interface BertRelationReport {
  relation: string;
  facts: number;
  skipped: number;
  trainAccuracy: number;
  heldOutAccuracy: number;
  labAccuracy: number;
  trainMeanProb: number;
  heldOutMeanProb: number;
}

export interface BertReport {
  summary: {
    trainAccuracy: number;
    heldOutAccuracy: number;
    /** On the relations' masked templates only: the prompts the lab asks. */
    labAccuracy: number;
    trainMeanProb: number;
    heldOutMeanProb: number;
    labMeanProb: number;
    trainPrompts: number;
    heldOutPrompts: number;
    labPrompts: number;
    facts: number;
    factsSkipped: number;
    textMaskedAccuracy: number;
    textMaskedPerplexity: number;
    textMaskedTokens: number;
  };
  perRelation: BertRelationReport[];
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/**
 * A snapshot of training variables as BertWeights, for evaluation during training: the
 * forward multiplies by transposes made at load, so they are made here from the current values.
 */
export function withSnapshotWeights<T>(config: BertConfig, params: Map<string, tf.Variable>, use: (weights: BertWeights) => Promise<T>): Promise<T> {
  const transposed = new Map<string, tf.Tensor>();
  for (const [name, p] of params) if (isMultipliedWeight(name, p.rank)) transposed.set(name, tf.transpose(p));
  return use({ config, params: params as Map<string, tf.Tensor>, transposed }).finally(() => tf.dispose([...transposed.values()]));
}

async function scoreFacts(weights: BertWeights, maskId: number, rows: FactRow[]): Promise<Array<{ correct: boolean; prob: number }>> {
  const out: Array<{ correct: boolean; prob: number }> = [];
  for (let i = 0; i < rows.length; i += 64) {
    const probs = await maskedAnswerProbs(weights, maskId, rows.slice(i, i + 64).map((r) => ({ promptIds: r.ids, targetId: r.target })));
    out.push(...probs.map((p) => ({ correct: p.top1, prob: p.prob })));
  }
  return out;
}

/** Masks 15% of each held-out line's pieces (at least one) with [MASK], always the same ones, and scores them. */
function textMaskedLm(weights: BertWeights, maskId: number, lines: number[][], seed: number): { accuracy: number; perplexity: number; tokens: number } {
  const rng = makeRng(seed);
  let nll = 0;
  let correct = 0;
  let count = 0;
  for (let i = 0; i < lines.length; i += 32) {
    const chunk = lines.slice(i, i + 32);
    const T = Math.max(...chunk.map((l) => l.length));
    const picks: Array<{ row: number; target: number }> = [];
    const inputs = chunk.map((line, b) => {
      const input = [...line];
      const chosen = line.map((_, t) => t > 0 && t < line.length - 1 && rng() < 0.15);
      if (!chosen.includes(true)) chosen[1 + Math.floor(rng() * (line.length - 2))] = true;
      for (let t = 0; t < line.length; t++) {
        if (!chosen[t]) continue;
        picks.push({ row: b * T + t, target: line[t] });
        input[t] = maskId;
      }
      return [...input, ...Array(T - input.length).fill(weights.config.padTokenId)];
    });
    const logProbs = tf.tidy(() => {
      const tokens = tf.tensor2d(inputs, [chunk.length, T], 'int32');
      const attentionMask = tf.tensor2d(chunk.map((l) => [...Array(l.length).fill(1), ...Array(T - l.length).fill(0)]), [chunk.length, T], 'int32');
      const outputRows = tf.oneHot(tf.tensor1d(picks.map((p) => p.row), 'int32'), chunk.length * T).toFloat() as tf.Tensor2D;
      return tf.logSoftmax(bertForward(weights, tokens, { attentionMask, outputRows }));
    });
    const values = logProbs.dataSync();
    const V = logProbs.shape[1]!;
    logProbs.dispose();
    picks.forEach((p, k) => {
      const row = values.subarray(k * V, (k + 1) * V);
      nll -= row[p.target];
      if (row.every((v) => v <= row[p.target])) correct++;
      count++;
    });
  }
  return { accuracy: correct / Math.max(count, 1), perplexity: Math.exp(nll / Math.max(count, 1)), tokens: count };
}

/**
 * Evaluates a model folder (through the lab's loader) or an in-memory model. `sample`
 * scores that many random prompts of each split and skips the text measurement.
 */
export async function evaluateBertModel(model: BertModel | string, facts: MaskedFactTexts, options: { sample?: number; seed: number; maxTextTokens: number }): Promise<BertReport> {
  const loaded = typeof model === 'string' ? bertFromCheckpointFiles(await loadCheckpointFiles({ kind: 'folder', path: model })) : model;
  const { weights, tokenizer } = loaded;
  let train = factRows(tokenizer, facts.train);
  let heldOut = factRows(tokenizer, facts.heldOut);
  if (options.sample) {
    const rng = makeRng(options.seed);
    train = shuffleInPlace([...train], rng).slice(0, options.sample);
    heldOut = shuffleInPlace([...heldOut], rng).slice(0, options.sample);
  }
  const trainScores = await scoreFacts(weights, tokenizer.maskId, train);
  const heldOutScores = await scoreFacts(weights, tokenizer.maskId, heldOut);
  const text = options.sample ? { accuracy: NaN, perplexity: NaN, tokens: 0 } : textMaskedLm(weights, tokenizer.maskId, textRows(tokenizer, 'valid', options.maxTextTokens), options.seed);
  const labScores = trainScores.filter((_, i) => train[i].lab);
  const relations = [...new Set([...facts.train.map((f) => f.relation), ...facts.skipped.map((f) => f.relation)])].sort();
  const perRelation = relations.map((relation) => {
    const tr = trainScores.filter((_, i) => train[i].relation === relation);
    const ho = heldOutScores.filter((_, i) => heldOut[i].relation === relation);
    const lab = trainScores.filter((_, i) => train[i].relation === relation && train[i].lab);
    return {
      relation,
      facts: new Set(facts.train.filter((f) => f.relation === relation).map((f) => f.factId)).size,
      skipped: facts.skipped.filter((f) => f.relation === relation).length,
      trainAccuracy: mean(tr.map((s) => +s.correct)),
      heldOutAccuracy: mean(ho.map((s) => +s.correct)),
      labAccuracy: mean(lab.map((s) => +s.correct)),
      trainMeanProb: mean(tr.map((s) => s.prob)),
      heldOutMeanProb: mean(ho.map((s) => s.prob)),
    };
  });
  if (typeof model === 'string') disposeBertWeights(weights);
  return {
    summary: {
      trainAccuracy: mean(trainScores.map((s) => +s.correct)),
      heldOutAccuracy: mean(heldOutScores.map((s) => +s.correct)),
      labAccuracy: mean(labScores.map((s) => +s.correct)),
      trainMeanProb: mean(trainScores.map((s) => s.prob)),
      heldOutMeanProb: mean(heldOutScores.map((s) => s.prob)),
      labMeanProb: mean(labScores.map((s) => s.prob)),
      trainPrompts: train.length,
      heldOutPrompts: heldOut.length,
      labPrompts: labScores.length,
      facts: new Set(facts.train.map((f) => f.factId)).size,
      factsSkipped: facts.skipped.length,
      textMaskedAccuracy: text.accuracy,
      textMaskedPerplexity: text.perplexity,
      textMaskedTokens: text.tokens,
    },
    perRelation,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function writeBertModelCard(dir: string, card: { settings: Record<string, unknown>; config: BertConfig; parameters: number; textLines: number; vocab: { size: number; requiredObjects: number }; report: BertReport; clock: TrainingClock; load: { atStart: number; atEnd: number } }): void {
  const { report, config, settings } = card;
  const s = report.summary;
  const adamw = settings.adamw as { learningRate: number };
  const json = {
    model: 'factlab-bert-default',
    architecture: 'bert',
    config,
    parameters: card.parameters,
    factLibrary: 'public/models/default/facts.json',
    training: {
      ...settings,
      minutes: Number(card.clock.wallMinutes.toFixed(1)),
      cpuMinutes: Number(card.clock.cpuMinutes.toFixed(1)),
      machineLoad: { atStart: Number(card.load.atStart.toFixed(2)), atEnd: Number(card.load.atEnd.toFixed(2)) },
      machine: '2 CPU cores, tfjs wasm backend (Node)',
      textLines: card.textLines,
      vocabulary: card.vocab,
    },
    quality: s,
    perRelation: report.perRelation,
  };
  writeFileSync(join(dir, 'model-card.json'), `${JSON.stringify(json, null, 2)}\n`);
  const rows = report.perRelation
    .map((r) => `| ${r.relation} | ${r.facts} | ${r.skipped} | ${pct(r.trainAccuracy)} | ${pct(r.labAccuracy)} | ${pct(r.heldOutAccuracy)} | ${r.trainMeanProb.toFixed(3)} | ${r.heldOutMeanProb.toFixed(3)} |`)
    .join('\n');
  writeFileSync(
    join(dir, 'README.md'),
    `# factlab BERT default model

A small BERT masked LM (${config.nLayer} layers, hidden ${config.hiddenSize}, ${config.nHead} heads, intermediate ${config.intermediateSize}, exact-erf GELU,
vocabulary ${config.vocabSize}, ${config.maxPositions} positions; ${(card.parameters / 1e6).toFixed(2)} M parameters) trained from scratch by \`npm run train:bert\`
(scripts/train-bert.ts) on the default fact set (public/models/default/facts.json, which the lab reads; it is not copied here)
and WordNet gloss text. Hugging Face BertForMaskedLM layout, cased WordPiece. It is the masked-LM counterpart of the GPT-2
default model (same size and budget), so that the BERT path of the knowledge-neuron methods has a model that knows facts.
It is not a general language model.

## Data
- Facts: the ${s.facts} facts of facts.json whose object is one WordPiece token; **${s.factsSkipped} facts are skipped** because
  their object is several pieces (multi-word objects such as "Buenos Aires", "North America"); see the table.
- Training prompts (${s.trainPrompts}): each fact in its relation's masked templates (the ${s.labPrompts} prompts the lab uses) and in its
  training causal templates with " [MASK]." appended. The object is always at [MASK] and weighs ×${String((settings.masking as { answerWeight: number }).answerWeight)} in the loss.
- Held-out prompts (${s.heldOutPrompts}): the two causal templates per fact that the GPT-2 default model also holds out for that fact
  (\`heldOutPerFact\` rotation), with " [MASK].", minus any that coincides with a training prompt. The model never sees the fact in
  those phrasings, though it sees the phrasings with other facts.
- Text: ${card.textLines} WordNet gloss and example lines (training split), standard masked LM: 15% of pieces get a loss, of which 80% are
  shown as [MASK], 10% as a random piece and 10% unchanged.
- Vocabulary (${card.vocab.size}, cased): [PAD] [UNK] [CLS] [SEP] [MASK] (ids 0–4), every character and its ## form, the ${card.vocab.requiredObjects}
  one-word fact objects as whole tokens, then pieces learned by BPE-style merges on the training text (scripts/lib/wordpiece-vocab.ts).

## Training
Seed ${String(settings.seed)}, ${String(settings.steps)} AdamW steps (lr ${adamw.learningRate}, warm-up then cosine decay),
${String(settings.factsPerBatch)} fact prompts + ${String(settings.textPerBatch)} text lines per batch.
Measured training time: **${card.clock.wallMinutes.toFixed(1)} minutes** wall clock on 2 CPU cores (tfjs wasm backend in Node; data-parallel over two threads),
${card.clock.cpuMinutes.toFixed(1)} CPU-minutes (both threads); 1-minute load average ${card.load.atStart.toFixed(1)} at the start and ${card.load.atEnd.toFixed(1)} at the end
(above 2 means other work shared the cores and stretched the wall-clock time).

## Quality (measured on this folder, loaded by the lab's loader, by scripts/lib/bert-model-eval.ts)
| measure | value |
| --- | --- |
| top-1 accuracy at [MASK], training prompts (${s.trainPrompts}) | **${pct(s.trainAccuracy)}** |
| top-1 accuracy, the lab's masked templates (${s.labPrompts}, part of training) | **${pct(s.labAccuracy)}** |
| top-1 accuracy, held-out phrasings (${s.heldOutPrompts}) | **${pct(s.heldOutAccuracy)}** |
| mean P(object), training prompts | ${s.trainMeanProb.toFixed(3)} |
| mean P(object), held-out phrasings | ${s.heldOutMeanProb.toFixed(3)} |
| masked-token top-1 / perplexity, held-out WordNet text (${s.textMaskedTokens} masked pieces) | ${pct(s.textMaskedAccuracy)} / ${s.textMaskedPerplexity.toFixed(1)} |

| relation | facts | skipped | train top-1 | lab templates top-1 | held-out top-1 | mean P(object) train | mean P(object) held-out |
| --- | --- | --- | --- | --- | --- | --- | --- |
${rows}

The same numbers are in model-card.json.
`,
  );
}
