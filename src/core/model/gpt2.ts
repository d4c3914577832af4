/**
 * GPT-2 forward pass with hook points (see hooks.ts for the names).
 *
 * One function serves every method: attribution and suppression are hooks, edits are
 * parameter overrides, subnetwork masks multiply the four block matrices. Everything
 * stays differentiable with respect to whatever the caller passes in (a hook's
 * replacement tensor, a mask), so callers wrap `forward` in `tf.grad`.
 *
 * Shapes: B batch, T new positions, P past positions (KV cache), d model width,
 * H heads, dh = d / H, f FFN width, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs';
import type { Gpt2Config } from './config';
import { runHook, type Hooks } from './hooks';
import { geluNew } from './kernels/gelu';
import { matMulBT } from './matmul';
import { paramResolver, type Gpt2Weights } from './weights';

export interface LayerKV {
  /** [B, H, P, dh] */
  key: tf.Tensor4D;
  value: tf.Tensor4D;
}
export type KVCache = LayerKV[];

export interface ForwardOptions {
  hooks?: Hooks;
  /** Multiplicative masks by parameter name (e.g. `h.3.mlp.c_fc.weight`), same shape as the weight. */
  masks?: Record<string, tf.Tensor>;
  /** Replacement parameters by name (weight edits); same shapes as the originals. */
  overrides?: Record<string, tf.Tensor>;
  /** [B, P + T], 1 for real tokens and 0 for padding (left or right). Without it every token is real. */
  attentionMask?: tf.Tensor2D;
  /** Keys/values of earlier positions; the new tokens continue after them. Batch 1 broadcasts. */
  past?: KVCache;
  /** Fill with this layer's keys/values (past + new), for later reuse. Caller disposes. */
  cacheOut?: KVCache;
  /** Return logits only at these positions, one per batch row → [B, V]; default: all positions [B, T, V]. */
  logitPositions?: number[];
  /** Start at `blocks.{layer}.hook_resid_pre` with this residual [B, T, d] instead of embedding tokens. */
  start?: { layer: number; residual: tf.Tensor3D };
  /** Stop after this many blocks and return the residual stream instead of logits. */
  stopAtLayer?: number;
}

/** Additive-mask value; −Infinity would turn fully masked rows into NaN. */
const MASKED = -1e9;

function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
}

function gelu(x: tf.Tensor, kind: Gpt2Config['activation']): tf.Tensor {
  if (kind === 'gelu') return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  return geluNew(x); // gelu_new: one fused kernel each way on WebGPU, the same formula in tf ops elsewhere
}

/** x [B, T, in] · W [in, out] + b, through 2-D matmuls (tfjs #8721: batched-matmul weight gradients have the wrong shape). */
function conv1d(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor): tf.Tensor {
  const [batch, length, width] = x.shape as [number, number, number];
  const flat = tf.reshape(x, [batch * length, width]);
  return tf.reshape(tf.add(tf.matMul(flat, weight), bias), [batch, length, weight.shape[1] as number]);
}

/**
 * Position ids and the additive attention bias [B, 1, T, P+T]: causal, minus padded keys.
 * With a mask, positions count only real tokens, so a left-padded row computes exactly
 * what it computes unpadded.
 */
function positionsAndBias(batch: number, length: number, pastLength: number, mask?: tf.Tensor2D) {
  return tf.tidy(() => {
    const total = pastLength + length;
    const causal = tf.linalg.bandPart(tf.ones([total, total]), -1, 0).slice([pastLength, 0], [length, total]);
    let bias = tf.mul(tf.sub(1, causal), MASKED).reshape([1, 1, length, total]) as tf.Tensor4D;
    let positions: tf.Tensor2D;
    if (mask) {
      const real = tf.cast(mask, 'float32');
      bias = tf.add(bias, tf.mul(tf.sub(1, real), MASKED).reshape([batch, 1, 1, total])) as tf.Tensor4D;
      const counted = tf.maximum(tf.sub(tf.cumsum(real, 1), 1), 0);
      positions = tf.cast(counted.slice([0, pastLength], [batch, length]), 'int32') as tf.Tensor2D;
    } else {
      positions = tf.tile(tf.range(pastLength, total, 1, 'int32').reshape([1, length]), [batch, 1]) as tf.Tensor2D;
    }
    return { positions, bias };
  });
}

export function forward(weights: Gpt2Weights, tokens: tf.Tensor2D | null, options: ForwardOptions = {}): tf.Tensor {
  const { config } = weights;
  const { hooks, overrides } = options;
  const param = paramResolver(weights.params, options);
  const eps = config.layerNormEpsilon;
  const startLayer = options.start?.layer ?? 0;
  const endLayer = options.stopAtLayer ?? config.nLayer;
  const pastLength = options.past?.[startLayer]?.key.shape[2] ?? 0;

  return tf.tidy(() => {
    let x: tf.Tensor;
    let batch: number;
    let length: number;
    if (options.start) {
      x = options.start.residual;
      [batch, length] = x.shape as [number, number, number];
    } else {
      if (!tokens) throw new Error('forward needs tokens unless it starts from a residual');
      [batch, length] = tokens.shape;
    }
    const { positions, bias } = positionsAndBias(batch, length, pastLength, options.attentionMask);
    if (!options.start) {
      // Embedding lookups stay off the gradient path (wasm has no gather gradient).
      const embed = runHook(hooks, 'hook_embed', tf.gather(param('wte.weight'), tokens!));
      const posEmbed = runHook(hooks, 'hook_pos_embed', tf.gather(param('wpe.weight'), positions));
      x = tf.add(embed, posEmbed);
    }
    for (let l = startLayer; l < endLayer; l++) {
      x = block(l, x!);
    }
    if (options.stopAtLayer !== undefined) return x!;
    x = runHook(hooks, 'ln_final.hook_normalized', layerNorm(x!, param('ln_f.weight'), param('ln_f.bias'), eps));
    if (options.logitPositions) {
      if (options.logitPositions.length !== batch) throw new Error('logitPositions needs one position per batch row');
      // Slices, not gather: a gradient through gather needs a kernel wasm lacks.
      const at = options.logitPositions.map((t) => (t < 0 ? length + t : t));
      const picked = at.every((t) => t === at[0])
        ? tf.reshape(tf.slice(x!, [0, at[0], 0], [batch, 1, config.nEmbd]), [batch, config.nEmbd])
        : tf.concat(at.map((t, b) => tf.reshape(tf.slice(x!, [b, t, 0], [1, 1, config.nEmbd]), [1, config.nEmbd])), 0);
      return unembed(picked);
    }
    const logits = unembed(tf.reshape(x, [batch * length, config.nEmbd]));
    return tf.reshape(logits, [batch, length, config.vocabSize]);

    function unembed(hidden: tf.Tensor): tf.Tensor {
      const tied = weights.unembedding && !overrides?.['wte.weight'];
      return tied ? tf.matMul(hidden, weights.unembedding!) : matMulBT(hidden, param('wte.weight'));
    }

    function block(l: number, input: tf.Tensor): tf.Tensor {
      const p = `h.${l}.`;
      const name = `blocks.${l}.`;
      const resid = runHook(hooks, `${name}hook_resid_pre`, input);
      const h = config.nHead;
      const dh = config.nEmbd / h;
      const normed = runHook(hooks, `${name}ln1.hook_normalized`, layerNorm(resid, param(`${p}ln_1.weight`), param(`${p}ln_1.bias`), eps));
      const qkv = conv1d(normed, param(`${p}attn.c_attn.weight`), param(`${p}attn.c_attn.bias`));
      const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [batch, length, h, dh]), [0, 2, 1, 3]);
      const [qRaw, kRaw, vRaw] = tf.split(qkv, 3, -1);
      const q = runHook(hooks, `${name}attn.hook_q`, heads(qRaw));
      let k = runHook(hooks, `${name}attn.hook_k`, heads(kRaw));
      let v = runHook(hooks, `${name}attn.hook_v`, heads(vRaw));
      const past = options.past?.[l];
      if (past) {
        const broadcast = (t: tf.Tensor) => (t.shape[0] === batch ? t : tf.tile(t, [batch, 1, 1, 1]));
        k = tf.concat([broadcast(past.key), k], 2);
        v = tf.concat([broadcast(past.value), v], 2);
      }
      if (options.cacheOut) options.cacheOut[l] = { key: tf.keep(k.clone()) as tf.Tensor4D, value: tf.keep(v.clone()) as tf.Tensor4D };
      const scores = tf.add(tf.div(matMulBT(q, k), Math.sqrt(dh)), bias);
      const pattern = runHook(hooks, `${name}attn.hook_pattern`, tf.softmax(scores, -1));
      const z = runHook(hooks, `${name}attn.hook_z`, tf.reshape(tf.transpose(tf.matMul(pattern, v), [0, 2, 1, 3]), [batch, length, config.nEmbd]));
      const attnOut = runHook(hooks, `${name}hook_attn_out`, conv1d(z, param(`${p}attn.c_proj.weight`), param(`${p}attn.c_proj.bias`)));
      const mid = runHook(hooks, `${name}hook_resid_mid`, tf.add(resid, attnOut));
      const normed2 = layerNorm(mid, param(`${p}ln_2.weight`), param(`${p}ln_2.bias`), eps);
      const pre = runHook(hooks, `${name}mlp.hook_pre`, conv1d(normed2, param(`${p}mlp.c_fc.weight`), param(`${p}mlp.c_fc.bias`)));
      const post = runHook(hooks, `${name}mlp.hook_post`, gelu(pre, config.activation));
      const mlpOut = runHook(hooks, `${name}hook_mlp_out`, conv1d(post, param(`${p}mlp.c_proj.weight`), param(`${p}mlp.c_proj.bias`)));
      return runHook(hooks, `${name}hook_resid_post`, tf.add(mid, mlpOut));
    }
  });
}

export function disposeCache(cache: KVCache): void {
  for (const layer of cache) {
    layer?.key.dispose();
    layer?.value.dispose();
  }
  cache.length = 0;
}
