/**
 * BERT masked-LM forward pass on the same hook-point scheme as gpt2.ts (see hooks.ts).
 * BERT is post-LayerNorm and bidirectional:
 *   resid_mid  = LN(resid_pre + attn_out)       (blocks.{l}.hook_resid_mid)
 *   mlp.hook_pre = intermediate.dense(resid_mid), mlp.hook_post = GELU(pre)  [B, T, f]
 *   resid_post = LN(resid_mid + mlp_out)         (blocks.{l}.hook_resid_post)
 * then the MLM head: dense + GELU + LayerNorm, tied decoder (word embeddings) + bias.
 * Attribution and suppression are hooks, edits are parameter overrides, as for GPT-2.
 *
 * Shapes: B batch, T positions, d hidden, H heads, dh = d / H, f FFN width, V vocabulary.
 */
import * as tf from '@tensorflow/tfjs';
import type { BertConfig } from './bert-config';
import type { BertWeights } from './bert-weights';
import { runHook, type Hooks } from './hooks';
import { geluNew } from './kernels/gelu';
import { matMulBT } from './matmul';
import { paramResolver } from './weights';

export interface BertForwardOptions {
  hooks?: Hooks;
  /** Multiplicative masks by parameter name, same shape as the weight. */
  masks?: Record<string, tf.Tensor>;
  /** Replacement parameters by name (weight edits); same shapes as the originals. */
  overrides?: Record<string, tf.Tensor>;
  /** [B, T], 1 for real tokens and 0 for padding. Without it every token is real. */
  attentionMask?: tf.Tensor2D;
  /** [B, T] segment ids; default all 0 (one sentence). */
  tokenTypes?: tf.Tensor2D;
  /** Return logits only at these positions, one per batch row (e.g. each row's [MASK]) → [B, V]. */
  logitPositions?: number[];
  /**
   * [N, B·T] one-hot rows choosing positions to score (row b·T + t of the flattened batch)
   * → logits [N, V]: any number of positions per row, as masked-LM training needs. A
   * product, not gather, so that gradients flow on wasm.
   */
  outputRows?: tf.Tensor2D;
  /**
   * Start at `blocks.{layer}.hook_resid_pre` with this residual [B, T, d] instead of embedding
   * tokens: layers below `layer` do not depend on what happens in it, so attribution reuses them.
   */
  start?: { layer: number; residual: tf.Tensor3D };
}

/** Additive-mask value; −Infinity would turn fully masked rows into NaN. */
const MASKED = -1e9;

function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps))), gamma), beta);
}

function gelu(x: tf.Tensor, kind: BertConfig['activation']): tf.Tensor {
  if (kind === 'gelu_new') return geluNew(x);
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/** MLM logits [B, T, V], or [B, V] at `logitPositions`, or [N, V] at `outputRows`. */
export function bertForward(weights: BertWeights, tokens: tf.Tensor2D | null, options: BertForwardOptions = {}): tf.Tensor {
  const { config } = weights;
  const { hooks, masks, overrides } = options;
  const param = paramResolver(weights.params, options);
  /** x [N, in] · Wᵀ for a weight in HF's [out, in] layout: the load-time transpose unless edited or masked. */
  const timesTransposed = (x: tf.Tensor, name: string): tf.Tensor =>
    overrides?.[name] || masks?.[name] ? matMulBT(x, param(name)) : tf.matMul(x, weights.transposed.get(name)!);
  /** x [B, T, in] → [B, T, out] through 2-D matmuls (tfjs #8721: batched-matmul weight gradients have the wrong shape). */
  const linear = (x: tf.Tensor, prefix: string): tf.Tensor => {
    const [batch, length, width] = x.shape as [number, number, number];
    const out = tf.add(timesTransposed(tf.reshape(x, [batch * length, width]), `${prefix}.weight`), param(`${prefix}.bias`));
    return tf.reshape(out, [batch, length, out.shape[1]!]);
  };
  const eps = config.layerNormEpsilon;
  const d = config.hiddenSize;
  if (!tokens && !options.start) throw new Error('bertForward needs tokens unless it starts from a residual');
  const [batch, length] = options.start ? options.start.residual.shape : tokens!.shape;
  if (length > config.maxPositions) throw new RangeError(`BERT input of ${length} tokens is longer than max_position_embeddings (${config.maxPositions})`);

  return tf.tidy(() => {
    const bias = options.attentionMask
      ? tf.reshape(tf.mul(tf.sub(1, tf.cast(options.attentionMask, 'float32')), MASKED), [batch, 1, 1, length])
      : tf.zeros([1, 1, 1, length]);
    let x = options.start ? options.start.residual : embed(tokens!);
    for (let l = options.start?.layer ?? 0; l < config.nLayer; l++) x = block(l, x);

    let hidden = tf.reshape(x, [batch * length, d]);
    if (options.outputRows) {
      if (options.outputRows.shape[1] !== batch * length) throw new Error(`outputRows must have ${batch * length} columns (batch × length)`);
      hidden = tf.matMul(options.outputRows, hidden);
    } else if (options.logitPositions) {
      if (options.logitPositions.length !== batch) throw new Error('logitPositions needs one position per batch row');
      // Slices, not gather: a gradient through gather needs a kernel wasm lacks.
      hidden = tf.concat(options.logitPositions.map((t, b) => tf.slice(hidden, [b * length + (t < 0 ? length + t : t), 0], [1, d])), 0);
    }
    const transformed = layerNorm(
      gelu(tf.add(timesTransposed(hidden, 'cls.predictions.transform.dense.weight'), param('cls.predictions.transform.dense.bias')), config.activation),
      param('cls.predictions.transform.LayerNorm.weight'),
      param('cls.predictions.transform.LayerNorm.bias'),
      eps,
    );
    const logits = tf.add(timesTransposed(transformed, 'embeddings.word_embeddings.weight'), param('cls.predictions.bias'));
    return options.logitPositions || options.outputRows ? logits : tf.reshape(logits, [batch, length, config.vocabSize]);

    function embed(ids: tf.Tensor2D): tf.Tensor {
      // Embedding lookups stay off the gradient path (wasm has no gather gradient).
      const word = runHook(hooks, 'hook_embed', tf.gather(param('embeddings.word_embeddings.weight'), ids));
      const positions = tf.range(0, length, 1, 'int32');
      const position = runHook(hooks, 'hook_pos_embed', tf.expandDims(tf.gather(param('embeddings.position_embeddings.weight'), positions), 0));
      const type = tf.gather(param('embeddings.token_type_embeddings.weight'), options.tokenTypes ?? tf.zeros([batch, length], 'int32'));
      return layerNorm(tf.add(tf.add(word, position), type), param('embeddings.LayerNorm.weight'), param('embeddings.LayerNorm.bias'), eps);
    }

    function block(l: number, input: tf.Tensor): tf.Tensor {
      const p = `encoder.layer.${l}.`;
      const name = `blocks.${l}.`;
      const h = config.nHead;
      const dh = d / h;
      const resid = runHook(hooks, `${name}hook_resid_pre`, input);
      const heads = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [batch, length, h, dh]), [0, 2, 1, 3]);
      const projection = (m: string) => heads(linear(resid, `${p}attention.self.${m}`));
      const q = runHook(hooks, `${name}attn.hook_q`, projection('query'));
      const k = runHook(hooks, `${name}attn.hook_k`, projection('key'));
      const v = runHook(hooks, `${name}attn.hook_v`, projection('value'));
      const scores = tf.add(tf.div(matMulBT(q, k), Math.sqrt(dh)), bias);
      const pattern = runHook(hooks, `${name}attn.hook_pattern`, tf.softmax(scores, -1));
      const z = runHook(hooks, `${name}attn.hook_z`, tf.reshape(tf.transpose(tf.matMul(pattern, v), [0, 2, 1, 3]), [batch, length, d]));
      const attnOut = runHook(hooks, `${name}hook_attn_out`, linear(z, `${p}attention.output.dense`));
      const mid = runHook(hooks, `${name}hook_resid_mid`, layerNorm(tf.add(resid, attnOut), param(`${p}attention.output.LayerNorm.weight`), param(`${p}attention.output.LayerNorm.bias`), eps));
      const pre = runHook(hooks, `${name}mlp.hook_pre`, linear(mid, `${p}intermediate.dense`));
      const post = runHook(hooks, `${name}mlp.hook_post`, gelu(pre, config.activation));
      const mlpOut = runHook(hooks, `${name}hook_mlp_out`, linear(post, `${p}output.dense`));
      return runHook(hooks, `${name}hook_resid_post`, layerNorm(tf.add(mid, mlpOut), param(`${p}output.LayerNorm.weight`), param(`${p}output.LayerNorm.bias`), eps));
    }
  });
}
