import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forward } from '../src/core/model/gpt2';
import { disposeWeights } from '../src/core/model/weights';
import { makeRng } from '../src/core/random';
import { binaryFromState, binaryMasksForForward, binarySparsity } from '../src/core/subnetwork/binary';
import {
  addDensityGradient, createMaskState, disposeMasks, disposeMaskState, expectedDensity, logisticNoise, logit, noiseKey, noiseUniforms, masksForForward, maskSparsity, straightThroughMask, topLayers,
} from '../src/core/subnetwork/mask';
import { exportMaskBits, exportMaskBitsFromState, exportMaskLogits, importMask, packBits, unpackBits } from '../src/core/subnetwork/mask-io';
import { smallConfig } from '../scripts/lib/random-checkpoint';
import { randomFixture, tensorCount, useWasm } from './helpers/tf';

beforeAll(useWasm);

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('straight-through mask', () => {
  it('forward is the hard threshold, backward the gradient of the soft sigmoid (both views, τ ≠ 1)', () => {
    const s = [-2, -0.3, 0.1, 0.7, 1.5, -0.05];
    const g = [0.5, 0.4, -0.3, 0.2, -2.5, 0.04];
    const w = [1, -2, 0.5, 3, -1, 2];
    const tau = 2;
    for (const view of ['subnetwork', 'remaining'] as const) {
      const logits = tf.tensor1d(s);
      const noise = tf.tensor1d(g);
      const weights = tf.tensor1d(w);
      const value = straightThroughMask(logits, noise, tau, view);
      const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(straightThroughMask(x, noise, tau, view), weights)))(logits);
      const v = value.dataSync();
      const d = grad.dataSync();
      s.forEach((si, i) => {
        const soft = sigmoid((si + g[i]) / tau);
        const viewSoft = view === 'remaining' ? 1 - soft : soft;
        expect(v[i]).toBe(viewSoft > 0.5 ? 1 : 0);
        const expected = ((view === 'remaining' ? -1 : 1) * w[i] * soft * (1 - soft)) / tau;
        expect(d[i]).toBeCloseTo(expected, 6);
      });
      tf.dispose([logits, noise, weights, value, grad]);
    }
  });

  it('logistic noise has mean 0, variance π²/3 and the logistic CDF, deterministically per key', async () => {
    const n = 200_000;
    const tensor = logisticNoise(noiseKey(7, 0, 0), [400, 500]);
    const noise = (await tensor.data()) as Float32Array;
    tensor.dispose();
    const again = logisticNoise(noiseKey(7, 0, 0), [400, 500]);
    expect(Array.from((await again.data()).slice(0, 1000))).toEqual(Array.from(noise.slice(0, 1000)));
    again.dispose();
    // g = log u − log(1 − u) of the key's uniforms, value by value
    const u = noiseUniforms(noiseKey(7, 0, 0), 5);
    for (let i = 0; i < 5; i++) expect(noise[i]).toBeCloseTo(Math.log(u[i] / (1 - u[i])), 4);
    let mean = 0;
    for (const x of noise) mean += x / n;
    let variance = 0;
    for (const x of noise) variance += (x - mean) ** 2 / (n - 1);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(variance - Math.PI ** 2 / 3)).toBeLessThan(0.06);
    // CDF of the standard logistic at 0, 1 and −2.5
    expect(noise.filter((x) => x <= 0).length / n).toBeCloseTo(0.5, 2);
    expect(noise.filter((x) => x <= 1).length / n).toBeCloseTo(sigmoid(1), 2);
    expect(noise.filter((x) => x <= -2.5).length / n).toBeCloseTo(sigmoid(-2.5), 2);
  });

  it('noise streams of different keys are uncorrelated and uniforms stay strictly inside (0, 1)', () => {
    const n = 100_000;
    const a = noiseUniforms(noiseKey(1318, 5, 0), n);
    const b = noiseUniforms(noiseKey(1318, 5, 1), n);
    const c = noiseUniforms(noiseKey(1318, 6, 0), n);
    const corr = (x: Float32Array, y: Float32Array) => {
      let sxy = 0;
      for (let i = 0; i < x.length; i++) sxy += (x[i] - 0.5) * (y[i] - 0.5);
      return sxy / x.length / (1 / 12);
    };
    expect(Math.abs(corr(a, b))).toBeLessThan(0.02);
    expect(Math.abs(corr(a, c))).toBeLessThan(0.02);
    // neighbouring indices are not correlated either
    expect(Math.abs(corr(a.subarray(0, n - 1), a.subarray(1)))).toBeLessThan(0.02);
    expect(Math.min(...a)).toBeGreaterThan(0);
    expect(Math.max(...a)).toBeLessThan(1);
    // a uniform histogram: each of 10 bins holds 10% ± 1%
    const bins = new Array(10).fill(0);
    for (const x of a) bins[Math.floor(x * 10)]++;
    for (const count of bins) expect(Math.abs(count / n - 0.1)).toBeLessThan(0.01);
    expect(noiseKey(1318, 5, 0)).not.toBe(noiseKey(1318, 0, 5));
  });
});

describe('expected density at GPT-2 sizes', () => {
  it('is accurate to 1e−5 on a 768 × 3072 mask, where one running float32 sum was off by 1.7%', async () => {
    const state = createMaskState({ nLayer: 1, nEmbd: 768, nInner: 3072 }, { layers: [0] });
    const grads = new Map<string, tf.Tensor>();
    expect(await addDensityGradient(state, 1, grads)).toBeCloseTo(0.45, 5);
    const d = expectedDensity(state);
    expect((await d.data())[0]).toBeCloseTo(0.45, 5);
    tf.dispose([d, ...grads.values()]);
    disposeMaskState(state);
  });
});

describe('mask state', () => {
  const config = smallConfig({ nLayer: 3, nEmbd: 6, nHead: 2, nInner: 10 });
  let fixture: ReturnType<typeof randomFixture>;
  beforeAll(() => {
    fixture = randomFixture({ config, seed: 3, std: 0.3 });
  });
  afterAll(() => disposeWeights(fixture.weights));

  it('covers the four matrices of the upper half, initialised at logit(0.45)', async () => {
    expect(topLayers(12)).toEqual([6, 7, 8, 9, 10, 11]);
    expect(topLayers(3)).toEqual([1, 2]);
    const state = createMaskState(config);
    expect(state.entries.map((e) => e.name)).toEqual([
      'h.1.attn.c_attn.weight', 'h.1.attn.c_proj.weight', 'h.1.mlp.c_fc.weight', 'h.1.mlp.c_proj.weight',
      'h.2.attn.c_attn.weight', 'h.2.attn.c_proj.weight', 'h.2.mlp.c_fc.weight', 'h.2.mlp.c_proj.weight',
    ]);
    expect(state.entries.map((e) => e.shape).slice(0, 4)).toEqual([[6, 18], [6, 6], [6, 10], [10, 6]]);
    const values = state.logits.get('h.2.mlp.c_fc.weight')!.dataSync();
    expect(values[0]).toBeCloseTo(-0.2007, 4);
    expect(await (async () => { const d = expectedDensity(state); const v = d.dataSync()[0]; d.dispose(); return v; })()).toBeCloseTo(0.45, 6);
    expect(() => createMaskState(config, { layers: [3] })).toThrow(/out of range/);
    disposeMaskState(state);
  });

  it('the sparsity regularizer gradient equals autodiff of λ·mean σ(s)', async () => {
    const state = createMaskState(config);
    const rng = makeRng(9);
    for (const e of state.entries) state.logits.get(e.name)!.assign(tf.tensor2d(Float32Array.from({ length: e.size }, () => 3 * rng() - 1.5), e.shape));
    const vars = state.entries.map((e) => state.logits.get(e.name)!);
    const { value, grads } = tf.variableGrads(() => tf.mul(expectedDensity(state), 2.5) as tf.Scalar, vars);
    const into = new Map<string, tf.Tensor>();
    const density = await addDensityGradient(state, 2.5, into);
    expect(density * 2.5).toBeCloseTo(value.dataSync()[0], 6);
    for (const [i, e] of state.entries.entries()) {
      const mine = into.get(e.name)!.dataSync();
      const auto = grads[vars[i].name].dataSync();
      mine.forEach((x, k) => expect(x).toBeCloseTo(auto[k], 9));
    }
    tf.dispose([value, ...Object.values(grads), ...into.values()]);
    disposeMaskState(state);
  });

  it('at initialization in eval mode the remaining model equals the full model exactly', () => {
    const state = createMaskState(config, { layers: [0, 1, 2] });
    const tokens = tf.tensor2d([[1, 5, 9, 4, 2]], [1, 5], 'int32');
    const masks = masksForForward(state, { mode: 'eval', view: 'remaining' });
    const full = forward(fixture.weights, tokens);
    const remaining = forward(fixture.weights, tokens, { masks });
    expect(Array.from(remaining.dataSync())).toEqual(Array.from(full.dataSync()));
    const sub = masksForForward(state, { mode: 'eval', view: 'subnetwork' });
    for (const m of Object.values(sub)) expect(m.max().dataSync()[0]).toBe(0);
    tf.dispose([tokens, full, remaining]);
    disposeMasks(masks);
    disposeMasks(sub);
    disposeMaskState(state);
  });

  it('train-mode samples keep each weight in the subnetwork with probability σ(s), deterministically per seed', () => {
    const state = createMaskState(config, { layers: [0, 1, 2] });
    const before = tensorCount();
    const a = masksForForward(state, { mode: 'train', view: 'subnetwork', rng: makeRng(11) });
    const b = masksForForward(state, { mode: 'train', view: 'subnetwork', rng: makeRng(11) });
    const r = masksForForward(state, { mode: 'train', view: 'remaining', rng: makeRng(11) });
    let ones = 0;
    let total = 0;
    for (const name of Object.keys(a)) {
      const va = a[name].dataSync() as Float32Array;
      expect(Array.from(b[name].dataSync())).toEqual(Array.from(va));
      const vr = r[name].dataSync();
      va.forEach((x, i) => expect(x + vr[i]).toBe(1)); // same noise: the two views partition
      for (const x of va) ones += x;
      total += va.length;
    }
    expect(ones / total).toBeGreaterThan(0.45 - 0.03);
    expect(ones / total).toBeLessThan(0.45 + 0.03);
    [a, b, r].forEach(disposeMasks);
    expect(tensorCount()).toBe(before);
    disposeMaskState(state);
  });

  it('counts sparsity overall and per layer × matrix', async () => {
    const state = createMaskState(config);
    const name = 'h.2.mlp.c_proj.weight';
    const v = state.logits.get(name)!;
    const values = new Float32Array(v.size).fill(-1);
    values[0] = 0.5; values[7] = 2; values[59] = 0; // 0 is not > 0
    v.assign(tf.tensor2d(values, v.shape as [number, number]));
    state.logits.get('h.1.attn.c_proj.weight')!.assign(tf.fill([6, 6], 3));
    const report = await maskSparsity(state);
    const total = state.entries.reduce((a, e) => a + e.size, 0);
    expect(report.total).toBe(total);
    expect(report.kept).toBe(2 + 36);
    expect(report.sparsity).toBeCloseTo(1 - 38 / total, 12);
    expect(report.modules.find((m) => m.name === name)).toMatchObject({ layer: 2, matrix: 'mlp.c_proj', total: 60, kept: 2 });
    expect(report.modules.find((m) => m.name === 'h.1.attn.c_proj.weight')!.sparsity).toBe(0);
    expect(binarySparsity(await binaryFromState(state))).toEqual(report);
    disposeMaskState(state);
  });
});

describe('mask files', () => {
  const config = smallConfig({ nLayer: 2, nEmbd: 6, nHead: 2, nInner: 10 });
  const info = { modelId: 'test:tiny', seed: 1318, step: 200, settings: { lr: 0.2 } };

  function trainedLikeState() {
    const state = createMaskState(config);
    const rng = makeRng(5);
    for (const e of state.entries) state.logits.get(e.name)!.assign(tf.tensor2d(Float32Array.from({ length: e.size }, () => rng() * 2 - 1.5), e.shape));
    return state;
  }

  it('packs bits most-significant first and unpacks them', () => {
    const bits = Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0]);
    const packed = packBits(bits);
    expect(Array.from(packed)).toEqual([0b10000001, 0b11000000]);
    expect(Array.from(unpackBits(packed, bits.length))).toEqual(Array.from(bits));
  });

  it('round-trips logits with metadata', async () => {
    const state = trainedLikeState();
    const bytes = await exportMaskLogits(state, info);
    const imported = importMask(bytes, { dims: config, modelId: 'test:tiny' });
    expect(imported.encoding).toBe('logits');
    expect(imported.layers).toEqual([1]);
    expect(imported.info).toMatchObject({ modelId: 'test:tiny', seed: 1318, step: 200, settings: { lr: 0.2 } });
    expect(imported.info.sparsity).toBeCloseTo((await maskSparsity(state)).sparsity, 12);
    for (const e of state.entries) expect(Array.from(imported.logits!.get(e.name)!)).toEqual(Array.from(state.logits.get(e.name)!.dataSync()));
    const binary = await binaryFromState(state);
    for (const e of state.entries) expect(imported.binary.bits.get(e.name)).toEqual(binary.bits.get(e.name));
    const restored = createMaskState(config, { layers: imported.layers, initial: imported.logits });
    expect(Array.from(restored.logits.get('h.1.mlp.c_fc.weight')!.dataSync())).toEqual(Array.from(imported.logits!.get('h.1.mlp.c_fc.weight')!));
    disposeMaskState(restored);
    disposeMaskState(state);
  });

  it('round-trips the bit-packed mask (sizes not multiples of 8)', async () => {
    const state = trainedLikeState();
    const binary = await binaryFromState(state);
    const bytes = exportMaskBits(binary, info);
    expect(bytes).toEqual(await exportMaskBitsFromState(state, info));
    const imported = importMask(bytes, { dims: config });
    expect(imported.encoding).toBe('bits');
    expect(imported.logits).toBeUndefined();
    for (const e of binary.entries) expect(imported.binary.bits.get(e.name)).toEqual(binary.bits.get(e.name));
    expect(binarySparsity(imported.binary)).toEqual(binarySparsity(binary));
    // the remaining-view masks are 1 − bits
    const masks = binaryMasksForForward(imported.binary, 'remaining');
    const name = 'h.1.attn.c_attn.weight';
    expect(Array.from(masks[name].dataSync())).toEqual(Array.from(binary.bits.get(name)!).map((b) => 1 - b));
    disposeMasks(masks);
    disposeMaskState(state);
  });

  it('rejects files that do not fit, with clear messages', async () => {
    const state = trainedLikeState();
    const logits = await exportMaskLogits(state, info);
    const bits = await exportMaskBitsFromState(state, info);
    expect(() => importMask(logits, { dims: config, modelId: 'other' })).toThrow(/made for model "test:tiny", not for the loaded model "other"/);
    expect(() => importMask(bits, { dims: { ...config, nInner: 12 } })).toThrow(/FFN 10.*12/);
    expect(() => importMask(bits.slice(0, bits.length - 3), { dims: config })).toThrow(/truncated/);
    expect(() => importMask(new Uint8Array([1, 2, 3]), { dims: config })).toThrow(/only 3 bytes.*not a safetensors file/);
    const { parseSafetensors, writeSafetensors } = await import('../src/core/model/safetensors');
    // U8 is read only when asked for: a model file holding U8 is still refused
    const bytes = writeSafetensors({ b: { shape: [3], bytes: new Uint8Array([0, 7, 255]), dtype: 'U8' } });
    const read = parseSafetensors(bytes, 'x.safetensors', { allowU8: true }).tensors.get('b')!;
    expect([read.dtype, Array.from(read.bytes!), Array.from(read.data)]).toEqual(['U8', [0, 7, 255], [0, 7, 255]]);
    expect(() => parseSafetensors(bytes)).toThrow(/dtype U8/);
    const wrongDtype = writeSafetensors({ 'h.1.attn.c_attn.weight': { shape: [3], bytes: new Uint8Array(3), dtype: 'U8' } }, { format: 'factlab-subnetwork-mask', version: '1', encoding: 'logits', model: 'x', layers: '[1]', n_layer: '2', n_embd: '6', n_inner: '10' });
    expect(() => importMask(wrongDtype, { dims: config })).toThrow(/missing h\.1\.attn\.c_proj/);
    const plain = writeSafetensors({ 'h.1.mlp.c_fc.weight': { shape: [6, 10], data: new Float32Array(60) } });
    expect(() => importMask(plain, { dims: config })).toThrow(/not a factlab subnetwork mask/);
    const partial = writeSafetensors({ 'h.1.mlp.c_fc.weight': { shape: [6, 10], data: new Float32Array(60) } }, { format: 'factlab-subnetwork-mask', version: '1', encoding: 'logits', model: 'x', layers: '[1]', n_layer: '2', n_embd: '6', n_inner: '10' });
    expect(() => importMask(partial, { dims: config })).toThrow(/missing h\.1\.attn\.c_attn\.weight/);
    const badLayers = writeSafetensors({}, { format: 'factlab-subnetwork-mask', version: '1', encoding: 'bits', model: 'x', layers: '[5]', n_layer: '2', n_embd: '6', n_inner: '10' });
    expect(() => importMask(badLayers, { dims: config })).toThrow(/Layer 5 is out of range/);
    try {
      importMask(logits, { dims: config, modelId: 'other' });
    } catch (err) {
      expect((err as { code: string }).code).toBe('mask-model-mismatch');
    }
    disposeMaskState(state);
  });

  it('logit(p) and its inverse', () => {
    expect(sigmoid(logit(0.45))).toBeCloseTo(0.45, 12);
  });
});
