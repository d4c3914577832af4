import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { FactlabError } from '../src/core/errors';
import { bertForward } from '../src/core/model/bert';
import { parseBertConfig, type BertConfig } from '../src/core/model/bert-config';
import { bertWeightsFromTensors, disposeBertWeights, type BertWeights } from '../src/core/model/bert-weights';
import { captureHooks, hookName, neuronPatchHook } from '../src/core/model/hooks';
import { parseSafetensors, type SafetensorsDtype } from '../src/core/model/safetensors';
import { makeRandomBertCheckpoint, smallBertConfig, type RandomBertOptions } from '../scripts/lib/random-bert-checkpoint';
import { maxRelativeError, tensorCount, useWasm } from './helpers/tf';

beforeAll(useWasm);

const REFERENCE = fileURLToPath(new URL('./reference/bert_ref.py', import.meta.url));
const FIXTURE_PATH = fileURLToPath(new URL('./reference/bert-logits-fixture.json', import.meta.url));
const hasNumpy = spawnSync('python3', ['-c', 'import numpy']).status === 0;

interface Patch { layer: number; position: number; neurons: number[]; scale: number }

function checkpoint(options: RandomBertOptions): { dir: string; weights: BertWeights } {
  const { configJson, safetensors, vocabTxt } = makeRandomBertCheckpoint(options);
  const dir = mkdtempSync(join(tmpdir(), 'factlab-bert-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configJson));
  writeFileSync(join(dir, 'model.safetensors'), safetensors);
  writeFileSync(join(dir, 'vocab.txt'), vocabTxt);
  const config = parseBertConfig(configJson);
  return { dir, weights: bertWeightsFromTensors(config, parseSafetensors(safetensors).tensors) };
}

function reference(dir: string, tokens: number[], patch?: Patch): number[] {
  const run = spawnSync('python3', [REFERENCE], { input: JSON.stringify({ dir, tokens: [tokens], patch: patch ?? null }), encoding: 'utf8', maxBuffer: 1 << 28 });
  if (run.status !== 0) throw new Error(run.stderr);
  return (JSON.parse(run.stdout) as number[][][])[0].flat();
}

function tokensFor(config: BertConfig, length: number, seed: number): number[] {
  return Array.from({ length }, (_, i) => (i === 0 ? 2 : i === length - 1 ? 3 : 5 + ((seed * 31 + i * 17) % (config.vocabSize - 5))));
}

const CASES: Array<{ name: string; options: RandomBertOptions; T: number; patch?: Patch }> = [
  { name: '2 layers, 2 heads, d=16, T=9', options: { config: smallBertConfig(), seed: 7, std: 0.3 }, T: 9 },
  {
    name: '3 layers, 4 heads, d=32, T=13, f16 weights, gamma/beta names',
    options: { config: smallBertConfig({ nLayer: 3, nHead: 4, hiddenSize: 32, intermediateSize: 96 }), seed: 8, std: 0.3, dtype: 'F16' as SafetensorsDtype, gammaBeta: true },
    T: 13,
  },
  { name: '1 layer, 1 head, T=1, gelu_new', options: { config: smallBertConfig({ nLayer: 1, nHead: 1, activation: 'gelu_new' }), seed: 9, std: 0.3 }, T: 1 },
  {
    name: '2 layers, suppressed neurons at mlp.hook_post',
    options: { config: smallBertConfig(), seed: 10, std: 0.3 },
    T: 7,
    patch: { layer: 1, position: 3, neurons: [0, 5, 17, 63], scale: 0 },
  },
];

describe('BERT masked-LM logits against an independent float64 NumPy reference', () => {
  const fixture: Record<string, number[]> = existsSync(FIXTURE_PATH) ? JSON.parse(readFileSync(FIXTURE_PATH, 'utf8')) : {};
  const fresh: Record<string, number[]> = {};
  for (const c of CASES) {
    it(c.name, () => {
      const { dir, weights } = checkpoint(c.options);
      const tokens = tokensFor(c.options.config, c.T, c.options.seed);
      const hooks = c.patch ? { [hookName.mlpPost(c.patch.layer)]: neuronPatchHook({ neurons: c.patch.neurons, positions: [c.patch.position], scale: c.patch.scale }) } : undefined;
      const before = tensorCount();
      const actual = tf.tidy(() => bertForward(weights, tf.tensor2d([tokens], [1, c.T], 'int32'), { hooks }).dataSync());
      expect(tensorCount()).toBe(before);
      const expected = hasNumpy ? reference(dir, tokens, c.patch) : fixture[c.name];
      expect(expected, 'no NumPy and no committed fixture for this case').toBeDefined();
      expect(maxRelativeError(actual, expected)).toBeLessThanOrEqual(1e-4);
      if (hasNumpy && fixture[c.name]) expect(maxRelativeError(fixture[c.name], expected)).toBeLessThan(1e-9);
      fresh[c.name] = expected.map((v) => Number(v.toPrecision(12)));
      disposeBertWeights(weights);
    });
  }
  it.runIf(process.env.WRITE_BERT_FIXTURE === '1')('writes the fixture for machines without NumPy', () => {
    writeFileSync(FIXTURE_PATH, `${JSON.stringify(fresh)}\n`);
  });
});

describe('BERT forward behaviour', () => {
  it('a right-padded row computes what it computes alone, and logitPositions picks rows', () => {
    const { weights } = checkpoint({ config: smallBertConfig(), seed: 11, std: 0.3 });
    const a = tokensFor(weights.config, 6, 1);
    const b = tokensFor(weights.config, 4, 2);
    const V = weights.config.vocabSize;
    const alone = (t: number[]) => tf.tidy(() => bertForward(weights, tf.tensor2d([t], [1, t.length], 'int32')).dataSync());
    const [aloneA, aloneB] = [alone(a), alone(b)];
    const padded = tf.tidy(() =>
      bertForward(weights, tf.tensor2d([a, [...b, 0, 0]], [2, 6], 'int32'), {
        attentionMask: tf.tensor2d([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]], [2, 6], 'int32'),
        logitPositions: [2, 3],
      }).dataSync(),
    );
    expect(maxRelativeError(padded.slice(0, V), aloneA.slice(2 * V, 3 * V))).toBeLessThan(1e-5);
    expect(maxRelativeError(padded.slice(V), aloneB.slice(3 * V, 4 * V))).toBeLessThan(1e-5);
    disposeBertWeights(weights);
  });

  it('outputRows scores any number of positions per row, and the product carries gradients to the weights', () => {
    const { weights } = checkpoint({ config: smallBertConfig(), seed: 14, std: 0.3 });
    const V = weights.config.vocabSize;
    const rows = [tokensFor(weights.config, 5, 5), tokensFor(weights.config, 5, 6)];
    const tokens = tf.tensor2d(rows, [2, 5], 'int32');
    const full = tf.tidy(() => bertForward(weights, tokens).dataSync());
    // Flattened positions b·T + t: row 0 at 1 and 3, row 1 at 4.
    const picked = [1, 3, 5 + 4];
    const select = tf.oneHot(tf.tensor1d(picked, 'int32'), 10).toFloat() as tf.Tensor2D;
    const chosen = tf.tidy(() => bertForward(weights, tokens, { outputRows: select }));
    expect(chosen.shape).toEqual([3, V]);
    const values = chosen.dataSync();
    picked.forEach((p, i) => expect(maxRelativeError(values.slice(i * V, (i + 1) * V), full.slice(p * V, (p + 1) * V))).toBeLessThan(1e-5));
    const decoder = weights.params.get('cls.predictions.transform.dense.weight')!;
    const grad = tf.grad((w: tf.Tensor) => bertForward(weights, tokens, { outputRows: select, overrides: { 'cls.predictions.transform.dense.weight': w } }).slice([0, 7], [3, 1]).sum())(decoder);
    expect(grad.shape).toEqual(decoder.shape);
    expect(grad.dataSync().some((v) => v !== 0)).toBe(true);
    expect(() => bertForward(weights, tokens, { outputRows: tf.zeros([1, 9]) as tf.Tensor2D })).toThrow(/10 columns/);
    tf.dispose([tokens, select, chosen, grad]);
    disposeBertWeights(weights);
  });

  it('starting at a layer from its captured residual gives the logits of the whole pass', () => {
    const { weights } = checkpoint({ config: smallBertConfig(), seed: 13, std: 0.3 });
    const tokens = tf.tensor2d([tokensFor(weights.config, 6, 4)], [1, 6], 'int32');
    const store = new Map<string, tf.Tensor>();
    const whole = tf.tidy(() => bertForward(weights, tokens, { hooks: captureHooks([hookName.residPre(1)], store) }).dataSync());
    const residual = store.get(hookName.residPre(1)) as tf.Tensor3D;
    const resumed = tf.tidy(() => bertForward(weights, null, { start: { layer: 1, residual } }).dataSync());
    expect(maxRelativeError(resumed, whole)).toBeLessThan(1e-6);
    tf.dispose([tokens, residual]);
    disposeBertWeights(weights);
  });

  it('exposes post-GELU activations [B, T, f] at blocks.{l}.mlp.hook_post and is differentiable through a hook', () => {
    const { weights } = checkpoint({ config: smallBertConfig(), seed: 12, std: 0.3 });
    const store = new Map<string, tf.Tensor>();
    const tokens = tf.tensor2d([tokensFor(weights.config, 5, 3)], [1, 5], 'int32');
    tf.tidy(() => bertForward(weights, tokens, { hooks: captureHooks([hookName.mlpPost(1)], store) }));
    const acts = store.get(hookName.mlpPost(1))!;
    expect(acts.shape).toEqual([1, 5, 64]);
    // Gradient of the [MASK]-position logit with respect to a scaling of layer-1 neurons.
    const scale = tf.ones([1, 5, 64]);
    const grad = tf.grad((s: tf.Tensor) =>
      bertForward(weights, tokens, { hooks: { [hookName.mlpPost(1)]: (x) => tf.mul(x, s) }, logitPositions: [2] }).slice([0, 7], [1, 1]).sum(),
    )(scale);
    const values = grad.dataSync();
    expect(values.every(Number.isFinite)).toBe(true);
    expect(values.some((v) => v !== 0)).toBe(true);
    tf.dispose([acts, tokens, scale, grad]);
    disposeBertWeights(weights);
  });
});

describe('BERT checkpoint import errors', () => {
  const config = smallBertConfig();
  const { configJson, safetensors } = makeRandomBertCheckpoint({ config, seed: 1 });
  const tensors = () => parseSafetensors(safetensors).tensors;
  const expectError = (fn: () => unknown, code: string, pattern: RegExp) => {
    let thrown: unknown;
    try { fn(); } catch (err) { thrown = err; }
    expect(thrown).toBeInstanceOf(FactlabError);
    expect((thrown as FactlabError).code).toBe(code);
    expect((thrown as Error).message).toMatch(pattern);
  };

  it('rejects weights that do not match config.json', () => {
    expectError(() => bertWeightsFromTensors({ ...config, hiddenSize: 32 }, tensors()), 'shape-mismatch', /has shape \[16\] but config\.json implies \[32\]/);
    expectError(() => bertWeightsFromTensors({ ...config, nLayer: 1 }, tensors()), 'unexpected-tensor', /encoder\.layer\.1\./);
  });

  it('says so when the masked-LM head is missing', () => {
    const headless = tensors();
    for (const name of [...headless.keys()]) if (name.startsWith('cls.')) headless.delete(name);
    expectError(() => bertWeightsFromTensors(config, headless), 'missing-tensor', /no masked-LM head/);
    const partial = tensors();
    partial.delete('bert.encoder.layer.1.output.dense.weight');
    expectError(() => bertWeightsFromTensors(config, partial), 'missing-tensor', /encoder\.layer\.1\.output\.dense\.weight/);
  });

  it('rejects configs that are not a supported BERT', () => {
    expectError(() => parseBertConfig({ ...configJson, model_type: 'roberta' }), 'unsupported-model', /"roberta"/);
    expectError(() => parseBertConfig({ ...configJson, num_attention_heads: 3 }), 'bad-config', /divisible/);
    expectError(() => parseBertConfig({ ...configJson, hidden_act: 'relu' }), 'bad-config', /hidden_act "relu"/);
    expectError(() => parseBertConfig({ ...configJson, position_embedding_type: 'relative_key' }), 'bad-config', /relative_key/);
    expectError(() => parseBertConfig({ ...configJson, tie_word_embeddings: false }), 'bad-config', /tied/);
  });
});
