/**
 * bench/attribute/kernels.ts: the matrix products of one attribution step on tfjs wasm, in
 * the orientations factlab uses and in alternatives, to back the suggestions in the
 * bench/attribute README section. No peer, no correctness gate: a diagnostic.
 *
 *   npx tsx bench/attribute/kernels.ts [--rows 22] [--runs 7]
 *
 * Rows = the α batch of one (layer, token) step: m = 20 points plus α = 1 and α = 0.
 * Shapes are GPT-2 small's (d 768, FFN 3072, vocab 50257). Weights are random tensors that
 * live for the whole run, like model weights, so tfjs-wasm's per-weight operator cache
 * (XNNPACK packs the right-hand operand once per tensor) behaves as it does in the app.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../../src/cli/node-backend';
import { backgroundLoad, isBusy } from '../lib/load';
import { formatTable } from '../lib/report';
import { fmtMs, quantile } from '../lib/timing';

const { values } = parseArgs({ options: { rows: { type: 'string', default: '22' }, runs: { type: 'string', default: '7' } } });
const K = Number(values.rows);
const runs = Number(values.runs);
const V = 50257;
const d = 768;
const f = 3072;

await initNodeBackend('wasm');
const idle = await backgroundLoad(1000);
console.log(`tfjs ${tf.version.tfjs} wasm, ${K} rows, median of ${runs} runs after 1 warm-up${idle ? `; other load ${idle.otherCores.toFixed(2)} cores${isBusy(idle) ? ' (BUSY: noisy)' : ''}` : ''}`);

const rows: string[][] = [];
function time(label: string, note: string, fn: () => tf.Tensor, n = runs): void {
  fn().dispose();
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const out = fn();
    out.dataSync();
    samples.push(performance.now() - start);
    out.dispose();
  }
  samples.sort((a, b) => a - b);
  const median = quantile(samples, 0.5);
  rows.push([label, fmtMs(median), fmtMs(samples[0]), note]);
}

const U = tf.randomNormal([d, V]); // the tied unembedding wteᵀ [d, V], as weights.ts keeps it
const wte = tf.randomNormal([V, d]);
const g = tf.randomNormal([K, V]); // dP/dlogits
const h = tf.randomNormal([K, d]);
time('logits h[K,d]·U[d,V]', 'what forward() runs', () => tf.matMul(h, U));
time('logits (wte[V,d]·hᵀ[d,K])ᵀ', 'weight as the left operand', () => tf.tidy(() => tf.transpose(tf.matMul(wte, tf.transpose(h)))));
time('dh g[K,V]·wte[V,d]', 'backward, transpose found in the cache', () => tf.matMul(g, wte));
time('dh (U[d,V]·gᵀ[V,K])ᵀ', 'backward, weight as the left operand', () => tf.tidy(() => tf.transpose(tf.matMul(U, tf.transpose(g)))));
time('dh g[K,V]·U[d,V]ᵀ', 'transposeB (what the stock gradient does)', () => tf.matMul(g, U, false, true), 3);
time('transpose U[d,V]', 'backward when the cache misses', () => tf.transpose(U), 3);
time('clone U[d,V]', 'each save for the tape (shares data since identity-wasm.ts)', () => tf.clone(U), 3);

const fc = tf.randomNormal([d, f]);
const fcT = tf.randomNormal([f, d]);
const gf = tf.randomNormal([K, f]);
time('block h[K,d]·fc[d,f]', 'forward c_fc', () => tf.matMul(h, fc), 3 * runs);
time('block (fcᵀ[f,d]·hᵀ[d,K])ᵀ', 'weight as the left operand', () => tf.tidy(() => tf.transpose(tf.matMul(fcT, tf.transpose(h)))), 3 * runs);
time('block gf[K,f]·fcᵀ[f,d]', 'backward, transpose found in the cache', () => tf.matMul(gf, fcT), 3 * runs);
time('block gf[K,f]·fc[d,f]ᵀ', 'transposeB', () => tf.matMul(gf, fc, false, true), runs);
time('transpose fc[d,f]', 'backward when the cache misses', () => tf.transpose(fc), runs);
time('clone fc[d,f]', 'shares data since identity-wasm.ts', () => tf.clone(fc), runs);

// Tiling the clean pass's keys/values [1, H, P, dh] to the α batch, as forward() does for a batch-1 past.
const past = tf.randomNormal([1, 12, 13, 64]);
const zeros = tf.zeros([K, 12, 13, 64]);
time('tile past [1,12,13,64] → [K,…]', 'forward() broadcasting the KV cache', () => tf.tile(past, [K, 1, 1, 1]), 3 * runs);
time('concat K copies of past', 'alternative', () => tf.concat(Array(K).fill(past), 0), 3 * runs);
time('past + zeros[K,…]', 'alternative (broadcasting add)', () => tf.add(past, zeros), 3 * runs);

// What one wasm thread reaches on a large, compute-bound product: a ceiling for any restructuring.
const big = tf.randomNormal([1024, 1024]);
const bigB = tf.randomNormal([1024, 1024]);
time('peak: [1024,1024]·[1024,1024]', '2.1 GFLOP', () => tf.matMul(big, bigB), runs);
const rowsBig = tf.randomNormal([12 * K, d]);
time(`batched layers: [${12 * K},d]·fc[d,f]`, '12 α batches in one product', () => tf.matMul(rowsBig, fc), runs);
time(`batched layers: [${12 * K},d]·U[d,V]`, '12 α batches in one product', () => tf.matMul(rowsBig, U), 3);

console.log(formatTable(['product', 'median ms', 'min ms', 'note'], rows));
