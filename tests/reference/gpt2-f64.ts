/**
 * Independent float64 GPT-2 forward in plain TypeScript (no tfjs), straight from the
 * GPT-2 definition, used as the parity reference for the tfjs forward.
 */
import type { Gpt2Config } from '../../src/core/model/config';

export type ParamsF64 = Map<string, { shape: number[]; data: Float64Array }>;

export interface ReferenceHooks {
  /** Called with layer index and the post-GELU activations [T][f] of that layer; may modify them in place. */
  mlpPost?: (layer: number, acts: Float64Array[]) => void;
}

function layerNorm(x: Float64Array, g: Float64Array, b: Float64Array, eps: number): Float64Array {
  const n = x.length;
  let mean = 0;
  for (const v of x) mean += v;
  mean /= n;
  let variance = 0;
  for (const v of x) variance += (v - mean) ** 2;
  variance /= n;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = ((x[i] - mean) / Math.sqrt(variance + eps)) * g[i] + b[i];
  return out;
}

function linear(x: Float64Array, w: { shape: number[]; data: Float64Array }, b: Float64Array): Float64Array {
  const [nIn, nOut] = w.shape;
  const out = Float64Array.from(b);
  for (let i = 0; i < nIn; i++) {
    const xi = x[i];
    if (xi === 0) continue;
    const row = i * nOut;
    for (let j = 0; j < nOut; j++) out[j] += xi * w.data[row + j];
  }
  return out;
}

function gelu(x: number, kind: Gpt2Config['activation']): number {
  if (kind === 'gelu') return 0.5 * x * (1 + erf(x / Math.SQRT2));
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/** erf by its Maclaurin series (|x| small) or continued-fraction complement; accurate to ~1e-14. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz) for large |x|
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** Logits [T][V] for one sequence. */
export function referenceForward(config: Gpt2Config, params: ParamsF64, tokens: number[], hooks: ReferenceHooks = {}): Float64Array[] {
  const d = config.nEmbd;
  const h = config.nHead;
  const dh = d / h;
  const T = tokens.length;
  const p = (name: string) => {
    const t = params.get(name);
    if (!t) throw new Error(`missing ${name}`);
    return t;
  };
  const wte = p('wte.weight').data;
  const wpe = p('wpe.weight').data;
  let x: Float64Array[] = tokens.map((tok, t) => {
    const row = new Float64Array(d);
    for (let i = 0; i < d; i++) row[i] = wte[tok * d + i] + wpe[t * d + i];
    return row;
  });
  for (let l = 0; l < config.nLayer; l++) {
    const pre = `h.${l}.`;
    const qkv = x.map((row) => linear(layerNorm(row, p(`${pre}ln_1.weight`).data, p(`${pre}ln_1.bias`).data, config.layerNormEpsilon), p(`${pre}attn.c_attn.weight`), p(`${pre}attn.c_attn.bias`).data));
    const z = x.map(() => new Float64Array(d));
    for (let head = 0; head < h; head++) {
      for (let t = 0; t < T; t++) {
        const scores: number[] = [];
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let i = 0; i < dh; i++) dot += qkv[t][head * dh + i] * qkv[s][d + head * dh + i];
          scores.push(dot / Math.sqrt(dh));
        }
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const total = exps.reduce((a, b) => a + b, 0);
        for (let s = 0; s <= t; s++) {
          const w = exps[s] / total;
          for (let i = 0; i < dh; i++) z[t][head * dh + i] += w * qkv[s][2 * d + head * dh + i];
        }
      }
    }
    x = x.map((row, t) => {
      const attn = linear(z[t], p(`${pre}attn.c_proj.weight`), p(`${pre}attn.c_proj.bias`).data);
      return row.map((v, i) => v + attn[i]);
    });
    const acts = x.map((row) => linear(layerNorm(row, p(`${pre}ln_2.weight`).data, p(`${pre}ln_2.bias`).data, config.layerNormEpsilon), p(`${pre}mlp.c_fc.weight`), p(`${pre}mlp.c_fc.bias`).data).map((v) => gelu(v, config.activation)));
    hooks.mlpPost?.(l, acts);
    x = x.map((row, t) => {
      const out = linear(acts[t], p(`${pre}mlp.c_proj.weight`), p(`${pre}mlp.c_proj.bias`).data);
      return row.map((v, i) => v + out[i]);
    });
  }
  const V = config.vocabSize;
  return x.map((row) => {
    const normed = layerNorm(row, p('ln_f.weight').data, p('ln_f.bias').data, config.layerNormEpsilon);
    const logits = new Float64Array(V);
    for (let v = 0; v < V; v++) {
      let dot = 0;
      for (let i = 0; i < d; i++) dot += normed[i] * wte[v * d + i];
      logits[v] = dot;
    }
    return logits;
  });
}
