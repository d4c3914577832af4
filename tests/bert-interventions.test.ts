import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { bertEditOverrides, bertEraseEdit, bertUpdateFactEdit, bertValueVector, maskedAnswerProbs } from '../src/core/knowledge/bert-interventions';
import { disposeOverrides } from '../src/core/knowledge/edit';
import type { Neuron } from '../src/core/knowledge/refine';
import { bertForward } from '../src/core/model/bert';
import { parseBertConfig } from '../src/core/model/bert-config';
import { bertParamName, bertWeightsFromTensors, disposeBertWeights, type BertWeights } from '../src/core/model/bert-weights';
import { hookName, neuronPatchHook, type Hooks } from '../src/core/model/hooks';
import { parseSafetensors } from '../src/core/model/safetensors';
import { WordPiece } from '../src/core/tokenizers/wordpiece';
import { makeRandomBertCheckpoint, smallBertConfig } from '../scripts/lib/random-bert-checkpoint';
import { maxRelativeError, tensorCount, useWasm } from './helpers/tf';

let weights: BertWeights;
let tokenizer: WordPiece;
beforeAll(async () => {
  await useWasm();
  const { configJson, safetensors, vocabTxt } = makeRandomBertCheckpoint({ config: smallBertConfig(), seed: 21, std: 0.3 });
  weights = bertWeightsFromTensors(parseBertConfig(configJson), parseSafetensors(safetensors).tensors);
  tokenizer = WordPiece.fromVocabTxt(vocabTxt, { lowercase: true });
  return () => disposeBertWeights(weights);
});

const NEURONS: Neuron[] = [[0, 3], [1, 10], [1, 40]];

function maskProbs(ids: number[], hooks?: Hooks, overrides?: Record<string, tf.Tensor>): Float32Array {
  const position = ids.indexOf(tokenizer.maskId);
  return tf.tidy(() => tf.softmax(bertForward(weights, tf.tensor2d([ids], [1, ids.length], 'int32'), { hooks, overrides, logitPositions: [position] })).dataSync() as Float32Array);
}

describe('answer probabilities at [MASK]', () => {
  it('scores a padded batch as each prompt alone, and suppression acts only at [MASK]', async () => {
    const a = tokenizer.encodeForModel('paris is the capital of [MASK].');
    const b = tokenizer.encodeForModel('[MASK] is in italy');
    const france = tokenizer.tokenId('france')!;
    const batch = [{ promptIds: a, targetId: france }, { promptIds: b, targetId: tokenizer.tokenId('rome')! }];
    const before = tensorCount();
    const clean = await maskedAnswerProbs(weights, tokenizer.maskId, batch);
    const suppressed = await maskedAnswerProbs(weights, tokenizer.maskId, batch, { neurons: NEURONS, scale: 0 });
    expect(tensorCount()).toBe(before);
    expect(clean[0].prob).toBeCloseTo(maskProbs(a)[france], 6);
    expect(clean[1].prob).toBeCloseTo(maskProbs(b)[batch[1].targetId], 6);
    const hooks = {
      [hookName.mlpPost(0)]: neuronPatchHook({ neurons: [3], positions: [a.indexOf(tokenizer.maskId)], scale: 0 }),
      [hookName.mlpPost(1)]: neuronPatchHook({ neurons: [10, 40], positions: [a.indexOf(tokenizer.maskId)], scale: 0 }),
    };
    expect(suppressed[0].prob).toBeCloseTo(maskProbs(a, hooks)[france], 6);
    expect(suppressed[0].prob).not.toBeCloseTo(clean[0].prob, 6);
  });

  it('refuses a prompt without [MASK]', async () => {
    await expect(maskedAnswerProbs(weights, tokenizer.maskId, [{ promptIds: tokenizer.encodeForModel('no mask here'), targetId: 5 }])).rejects.toMatchObject({ code: 'no-mask' });
  });
});

describe('value-slot edits (columns of output.dense.weight)', () => {
  it('erasing to zero equals silencing the neurons at every position', async () => {
    const ids = tokenizer.encodeForModel('paris is the capital of [MASK].');
    const edit = await bertEraseEdit(weights, NEURONS, { kind: 'zero' });
    const overrides = bertEditOverrides(weights, [edit]);
    const all = ids.map((_, t) => t);
    const hooks = {
      [hookName.mlpPost(0)]: neuronPatchHook({ neurons: [3], positions: all, scale: 0 }),
      [hookName.mlpPost(1)]: neuronPatchHook({ neurons: [10, 40], positions: all, scale: 0 }),
    };
    expect(maxRelativeError(maskProbs(ids, undefined, overrides), maskProbs(ids, hooks))).toBeLessThan(1e-5);
    disposeOverrides(overrides);
  });

  it('erasing with [UNK] writes the [UNK] embedding; other columns and the loaded weights stay', async () => {
    const edit = await bertEraseEdit(weights, [[1, 10]], { kind: 'unk', unkId: tokenizer.unkId });
    const overrides = bertEditOverrides(weights, [edit]);
    const param = bertParamName.ffnOut(1);
    const [edited, original] = [overrides[param].arraySync() as number[][], weights.params.get(param)!.arraySync() as number[][]];
    const unk = weights.params.get(bertParamName.wordEmbeddings)!.slice([tokenizer.unkId, 0], [1, 16]).dataSync();
    edited.forEach((row, r) => row.forEach((v, c) => expect(v).toBeCloseTo(c === 10 ? unk[r] : original[r][c], 6)));
    expect(Array.from(await bertValueVector(weights, [1, 10]))).toEqual(Array.from(edit.slots[0].original));
    disposeOverrides(overrides);
  });

  it('an update subtracts the old answer embedding and adds the new one, scaled to the slot norm', async () => {
    const [from, to] = [tokenizer.tokenId('france')!, tokenizer.tokenId('italy')!];
    const edit = await bertUpdateFactEdit(weights, [[1, 10]], from, to, { lambda1: 1, lambda2: 8 });
    const embedding = (id: number) => Array.from(weights.params.get(bertParamName.wordEmbeddings)!.slice([id, 0], [1, 16]).dataSync());
    const norm = (v: ArrayLike<number>) => Math.hypot(...Array.from(v));
    const { original, updated } = edit.slots[0];
    const [eFrom, eTo] = [embedding(from), embedding(to)];
    const expected = Array.from(original, (v, k) => v - (norm(original) / norm(eFrom)) * eFrom[k] + ((8 * norm(original)) / norm(eTo)) * eTo[k]);
    expect(maxRelativeError(updated, expected)).toBeLessThan(1e-5);
    expect(edit.slots[0].param).toBe('encoder.layer.1.output.dense.weight');
  });

  it('rejects empty or out-of-range neuron lists', async () => {
    await expect(bertEraseEdit(weights, [], { kind: 'zero' })).rejects.toMatchObject({ code: 'bad-neurons' });
    await expect(bertEraseEdit(weights, [[2, 0]], { kind: 'zero' })).rejects.toMatchObject({ code: 'bad-neurons' });
    await expect(bertUpdateFactEdit(weights, [[0, 64]], 5, 6)).rejects.toMatchObject({ code: 'bad-neurons' });
  });
});
