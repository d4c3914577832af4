/**
 * Model parameters as one flat map keyed by the Hugging Face names without the
 * `transformer.` prefix (e.g. `h.3.mlp.c_fc.weight`). The same names key weight
 * masks, weight overrides (edits) and exported mask files.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError } from '../errors';
import type { Gpt2Config } from './config';
import { forgetTranspose, registerTransposePair, rememberTranspose } from './matmul';
import type { TensorData } from './safetensors';

export type ParamMap = Map<string, tf.Tensor>;

/**
 * A forward pass's view of its parameters: a weight edit (override) replaces the loaded
 * tensor, and a mask multiplies it. Shared by the GPT-2 and BERT forwards.
 */
export function paramResolver(params: ParamMap, options: { overrides?: Record<string, tf.Tensor>; masks?: Record<string, tf.Tensor> }): (name: string) => tf.Tensor {
  return (name) => {
    const value = options.overrides?.[name] ?? params.get(name);
    if (!value) throw new Error(`unknown parameter ${name}`);
    const mask = options.masks?.[name];
    return mask ? tf.mul(value, mask) : value;
  };
}

export interface Gpt2Weights {
  config: Gpt2Config;
  params: ParamMap;
  /**
   * wteᵀ [d, V], kept because the tied unembedding multiplies by it on every forward and a
   * transposed product is ~10× slower on wasm. Absent while wte is being trained.
   */
  unembedding?: tf.Tensor2D;
}

/** The four weight matrices per block that masks (knowledge-critical subnetworks) act on. */
export const MASKABLE_MATRICES = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;
export type MaskableMatrix = (typeof MASKABLE_MATRICES)[number];

export function gpt2ParamShapes(c: Gpt2Config): Map<string, number[]> {
  const d = c.nEmbd;
  const shapes = new Map<string, number[]>([
    ['wte.weight', [c.vocabSize, d]],
    ['wpe.weight', [c.nPositions, d]],
    ['ln_f.weight', [d]],
    ['ln_f.bias', [d]],
  ]);
  for (let l = 0; l < c.nLayer; l++) {
    const p = `h.${l}.`;
    shapes.set(`${p}ln_1.weight`, [d]).set(`${p}ln_1.bias`, [d]);
    shapes.set(`${p}attn.c_attn.weight`, [d, 3 * d]).set(`${p}attn.c_attn.bias`, [3 * d]);
    shapes.set(`${p}attn.c_proj.weight`, [d, d]).set(`${p}attn.c_proj.bias`, [d]);
    shapes.set(`${p}ln_2.weight`, [d]).set(`${p}ln_2.bias`, [d]);
    shapes.set(`${p}mlp.c_fc.weight`, [d, c.nInner]).set(`${p}mlp.c_fc.bias`, [c.nInner]);
    shapes.set(`${p}mlp.c_proj.weight`, [c.nInner, d]).set(`${p}mlp.c_proj.bias`, [d]);
  }
  return shapes;
}

/** Buffers HF stores next to the parameters that carry no learned values. */
const IGNORED = /^h\.\d+\.attn\.(bias|masked_bias)$|^lm_head\.weight$/;

/**
 * The one place where checkpoint tensors become model parameters: strips the
 * `transformer.` prefix, skips buffers, and checks every name and shape against config.json.
 * The LM head is tied to `wte` (GPT-2 has no separate head weights).
 */
export function gpt2WeightsFromTensors(config: Gpt2Config, tensors: Map<string, TensorData>): Gpt2Weights {
  const expected = gpt2ParamShapes(config);
  const found = new Map<string, TensorData>();
  for (const [rawName, tensor] of tensors) {
    const name = rawName.startsWith('transformer.') ? rawName.slice('transformer.'.length) : rawName;
    if (IGNORED.test(name)) continue;
    const shape = expected.get(name);
    if (!shape) {
      throw new FactlabError('unexpected-tensor', `Checkpoint has tensor "${rawName}", which a GPT-2 with ${config.nLayer} layers does not have. Check that config.json belongs to this checkpoint.`);
    }
    if (shape.length !== tensor.shape.length || shape.some((s, i) => s !== tensor.shape[i])) {
      throw new FactlabError('shape-mismatch', `Tensor "${rawName}" has shape [${tensor.shape.join(', ')}] but config.json implies [${shape.join(', ')}]. The config and weights do not match.`);
    }
    found.set(name, tensor);
  }
  const missing = [...expected.keys()].filter((n) => !found.has(n));
  if (missing.length > 0) {
    const list = missing.slice(0, 5).join(', ') + (missing.length > 5 ? `, … (${missing.length} in all)` : '');
    throw new FactlabError('missing-tensor', `Checkpoint is missing tensor(s): ${list}.`);
  }
  const params: ParamMap = new Map();
  for (const [name, t] of found) params.set(name, tf.tensor(t.data, t.shape, 'float32'));
  const unembedding = tf.transpose(params.get('wte.weight')!) as tf.Tensor2D;
  registerTransposePair(params.get('wte.weight')!, unembedding);
  return { config, params, unembedding };
}

/**
 * Keeps transposed copies of the block matrices so that backward passes through a frozen
 * model (attribution, mask training) do not transpose them again on every step. Costs one
 * more copy of the block weights; skipped above `maxParameters`, where that would not fit.
 */
export function cacheTransposesForGradients(weights: Gpt2Weights, maxParameters = 200e6): boolean {
  let total = 0;
  for (const t of weights.params.values()) total += t.size;
  if (total > maxParameters) return false;
  for (const [name, t] of weights.params) if (t.rank === 2 && name.startsWith('h.')) rememberTranspose(t);
  return true;
}

export function disposeWeights(weights: Gpt2Weights): void {
  for (const t of weights.params.values()) {
    forgetTranspose(t);
    t.dispose();
  }
  weights.params.clear();
  weights.unembedding?.dispose();
  weights.unembedding = undefined;
}
