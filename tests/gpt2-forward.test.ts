import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { forward, disposeCache, type KVCache } from '../src/core/model/gpt2';
import { captureHooks, hookName, neuronPatchHook } from '../src/core/model/hooks';
import { disposeWeights } from '../src/core/model/weights';
import { smallConfig } from '../scripts/lib/random-checkpoint';
import { referenceForward } from './reference/gpt2-f64';
import { maxRelativeError, randomFixture, tensorCount, useWasm } from './helpers/tf';
import { makeRng } from '../src/core/random';

beforeAll(useWasm);

function randomTokens(n: number, vocab: number, seed: number): number[] {
  const rng = makeRng(seed);
  return Array.from({ length: n }, () => Math.floor(rng() * vocab));
}

function logitsOf(fixture: ReturnType<typeof randomFixture>, tokens: number[]): Float32Array {
  return tf.tidy(() => forward(fixture.weights, tf.tensor2d([tokens], [1, tokens.length], 'int32')).dataSync() as Float32Array);
}

describe('GPT-2 forward parity with a float64 reference', () => {
  const cases = [
    { name: '2 layers, 2 heads, d=16, T=7', config: smallConfig(), T: 7, dtype: 'F32' as const },
    { name: '3 layers, 4 heads, d=32, T=13, f16 weights', config: smallConfig({ nLayer: 3, nHead: 4, nEmbd: 32, nInner: 96 }), T: 13, dtype: 'F16' as const },
    { name: '1 layer, 1 head, T=1, bf16, exact gelu', config: smallConfig({ nLayer: 1, nHead: 1, activation: 'gelu' }), T: 1, dtype: 'BF16' as const },
    { name: '2 layers, 8 heads, d=64, T=31, prefixed names', config: smallConfig({ nHead: 8, nEmbd: 64, nInner: 256 }), T: 31, dtype: 'F32' as const, prefixed: true },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const fixture = randomFixture({ config: c.config, seed: 7, dtype: c.dtype, std: 0.3, prefixed: c.prefixed, withAttnBias: true });
      const tokens = randomTokens(c.T, c.config.vocabSize, 3);
      const actual = logitsOf(fixture, tokens);
      const expected = referenceForward(c.config, fixture.params64, tokens).flatMap((row) => Array.from(row));
      expect(maxRelativeError(actual, expected)).toBeLessThanOrEqual(1e-4);
      disposeWeights(fixture.weights);
    });
  }
});

describe('padding and the KV cache', () => {
  it('left- and right-padded rows compute what each row computes alone', () => {
    const config = smallConfig();
    const fixture = randomFixture({ config, seed: 11, std: 0.3 });
    const a = randomTokens(5, config.vocabSize, 1);
    const b = randomTokens(3, config.vocabSize, 2);
    const alone = [logitsOf(fixture, a), logitsOf(fixture, b)];
    const pad = config.eosTokenId;
    const V = config.vocabSize;
    // left padding: b is padded at the front
    const left = tf.tidy(() =>
      forward(fixture.weights, tf.tensor2d([a, [pad, pad, ...b]], [2, 5], 'int32'), {
        attentionMask: tf.tensor2d([[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]], [2, 5], 'int32'),
        logitPositions: [-1, -1],
      }).dataSync(),
    );
    expect(maxRelativeError(left.slice(0, V), alone[0].slice(4 * V))).toBeLessThan(1e-5);
    expect(maxRelativeError(left.slice(V), alone[1].slice(2 * V))).toBeLessThan(1e-5);
    // right padding: b is padded at the end; read its last real position
    const right = tf.tidy(() =>
      forward(fixture.weights, tf.tensor2d([a, [...b, pad, pad]], [2, 5], 'int32'), {
        attentionMask: tf.tensor2d([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], [2, 5], 'int32'),
        logitPositions: [4, 2],
      }).dataSync(),
    );
    expect(maxRelativeError(right.slice(V), alone[1].slice(2 * V))).toBeLessThan(1e-5);
    disposeWeights(fixture.weights);
  });

  it('continuing from a cached clean pass equals the full pass, also for a broadcast batch', () => {
    const config = smallConfig({ nLayer: 3 });
    const fixture = randomFixture({ config, seed: 5, std: 0.3 });
    const tokens = randomTokens(9, config.vocabSize, 4);
    const full = logitsOf(fixture, tokens);
    const cache: KVCache = [];
    tf.tidy(() => { forward(fixture.weights, tf.tensor2d([tokens.slice(0, 8)], [1, 8], 'int32'), { cacheOut: cache }); });
    const next = tf.tidy(() => forward(fixture.weights, tf.tensor2d([[tokens[8]], [tokens[8]]], [2, 1], 'int32'), { past: cache }).dataSync());
    const V = config.vocabSize;
    expect(maxRelativeError(next.slice(0, V), full.slice(8 * V))).toBeLessThan(1e-5);
    expect(maxRelativeError(next.slice(V), full.slice(8 * V))).toBeLessThan(1e-5);
    disposeCache(cache);
    disposeWeights(fixture.weights);
  });
});

describe('hooks', () => {
  const config = smallConfig();
  it('replacing an activation with itself changes nothing; capture reads it', () => {
    const fixture = randomFixture({ config, seed: 2, std: 0.3 });
    const tokens = randomTokens(6, config.vocabSize, 9);
    const clean = logitsOf(fixture, tokens);
    const store = new Map<string, tf.Tensor>();
    const hooked = tf.tidy(() =>
      forward(fixture.weights, tf.tensor2d([tokens], [1, 6], 'int32'), {
        hooks: { ...captureHooks([hookName.mlpPost(1), hookName.pattern(0)], store), [hookName.mlpPre(0)]: (x) => x.clone() },
      }).dataSync(),
    );
    expect(Array.from(hooked)).toEqual(Array.from(clean));
    expect(store.get(hookName.mlpPost(1))!.shape).toEqual([1, 6, config.nInner]);
    expect(store.get(hookName.pattern(0))!.shape).toEqual([1, config.nHead, 6, 6]);
    store.forEach((t) => t.dispose());
    disposeWeights(fixture.weights);
  });

  it('zeroing one neuron at one position matches the reference with the same edit', () => {
    const fixture = randomFixture({ config, seed: 3, std: 0.3 });
    const tokens = randomTokens(6, config.vocabSize, 10);
    const actual = tf.tidy(() =>
      forward(fixture.weights, tf.tensor2d([tokens], [1, 6], 'int32'), {
        hooks: { [hookName.mlpPost(0)]: neuronPatchHook({ neurons: [5], positions: [4], scale: 0 }) },
      }).dataSync(),
    );
    const expected = referenceForward(config, fixture.params64, tokens, {
      mlpPost: (layer, acts) => { if (layer === 0) acts[4][5] = 0; },
    }).flatMap((r) => Array.from(r));
    expect(maxRelativeError(actual, expected)).toBeLessThan(1e-4);
    // and it really changed later positions but not earlier ones
    const clean = logitsOf(fixture, tokens);
    const V = config.vocabSize;
    expect(maxRelativeError(actual.slice(0, 4 * V), clean.slice(0, 4 * V))).toBe(0);
    expect(maxRelativeError(actual.slice(4 * V), clean.slice(4 * V))).toBeGreaterThan(1e-6);
    disposeWeights(fixture.weights);
  });
});

describe('gradients', () => {
  const config = smallConfig();
  const tokens = [3, 17, 250, 42, 9];
  const gold = 77;

  function probOfGold(fixture: ReturnType<typeof randomFixture>, options: Parameters<typeof forward>[2]): tf.Scalar {
    const logits = forward(fixture.weights, tf.tensor2d([tokens], [1, tokens.length], 'int32'), { ...options, logitPositions: [-1] });
    return tf.softmax(logits).slice([0, gold], [1, 1]).sum() as tf.Scalar;
  }

  it('w.r.t. a replaced activation matches finite differences', () => {
    const fixture = randomFixture({ config, seed: 4, std: 0.3 });
    const layer = 0;
    const clean = new Map<string, tf.Tensor>();
    tf.tidy(() => { forward(fixture.weights, tf.tensor2d([tokens], [1, 5], 'int32'), { hooks: captureHooks([hookName.mlpPost(layer)], clean) }); });
    const base = clean.get(hookName.mlpPost(layer))!;
    const f = (act: tf.Tensor) => probOfGold(fixture, { hooks: { [hookName.mlpPost(layer)]: () => act } });
    const grad = tf.tidy(() => tf.grad(f)(base).dataSync());
    const values = base.dataSync();
    const h = 1e-2;
    for (const index of [4 * config.nInner + 3, 4 * config.nInner + 40, 2 * config.nInner + 7]) {
      const plus = Float32Array.from(values); plus[index] += h;
      const minus = Float32Array.from(values); minus[index] -= h;
      const fd = tf.tidy(() => (f(tf.tensor(plus, base.shape)).dataSync()[0] - f(tf.tensor(minus, base.shape)).dataSync()[0]) / (2 * h));
      expect(Math.abs(grad[index] - fd)).toBeLessThan(1e-3 * Math.max(1, Math.abs(fd)) + 2e-5);
    }
    base.dispose();
    disposeWeights(fixture.weights);
  });

  it('w.r.t. a weight mask matches finite differences', () => {
    const fixture = randomFixture({ config, seed: 6, std: 0.3 });
    const name = 'h.1.mlp.c_fc.weight';
    const shape = fixture.weights.params.get(name)!.shape;
    const ones = tf.ones(shape);
    const f = (mask: tf.Tensor) => probOfGold(fixture, { masks: { [name]: mask } });
    const grad = tf.tidy(() => tf.grad(f)(ones).dataSync());
    expect(grad.length).toBe(ones.size);
    const h = 1e-2;
    for (const index of [0, 100, 700]) {
      const plus = new Float32Array(ones.size).fill(1); plus[index] += h;
      const minus = new Float32Array(ones.size).fill(1); minus[index] -= h;
      const fd = tf.tidy(() => (f(tf.tensor(plus, shape)).dataSync()[0] - f(tf.tensor(minus, shape)).dataSync()[0]) / (2 * h));
      expect(Math.abs(grad[index] - fd)).toBeLessThan(1e-3 * Math.max(1, Math.abs(fd)) + 2e-5);
    }
    ones.dispose();
    disposeWeights(fixture.weights);
  });
});

describe('memory', () => {
  it('repeated forwards, hooks, caches and gradients leak no tensors', () => {
    const config = smallConfig();
    const fixture = randomFixture({ config, seed: 1 });
    const before = tensorCount();
    for (let i = 0; i < 5; i++) {
      tf.tidy(() => { forward(fixture.weights, tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'), { hooks: { [hookName.mlpPost(0)]: neuronPatchHook({ neurons: [1, 2], positions: [-1], scale: 2 }) } }); });
      const cache: KVCache = [];
      tf.tidy(() => { forward(fixture.weights, tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'), { cacheOut: cache }); });
      disposeCache(cache);
      tf.tidy(() => { tf.grad((m: tf.Tensor) => forward(fixture.weights, tf.tensor2d([[1, 2]], [1, 2], 'int32'), { masks: { 'h.0.attn.c_proj.weight': m } }).sum())(tf.ones([16, 16])); });
    }
    expect(tensorCount()).toBe(before);
    disposeWeights(fixture.weights);
  });
});
