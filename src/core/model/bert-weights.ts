/**
 * BERT parameters as one flat map keyed by Hugging Face names without the `bert.` prefix
 * (e.g. `encoder.layer.3.output.dense.weight`). Linear weights keep HF's [out, in] layout,
 * so the value vector of FFN neuron j in layer l is column j of
 * `encoder.layer.{l}.output.dense.weight` [d, f], as in the knowledge-neurons paper.
 */
import * as tf from '@tensorflow/tfjs';
import { FactlabError } from '../errors';
import type { BertConfig } from './bert-config';
import type { TensorData } from './safetensors';
import { registerTransposePair } from './matmul';
import type { ParamMap } from './weights';

export interface BertWeights {
  config: BertConfig;
  params: ParamMap;
  /**
   * Wᵀ [in, out] of every matrix the forward multiplies by (the Linear weights and the tied
   * decoder), made once at load: HF stores Linear weights [out, in], and transposing them on
   * every forward (or a transposed product, ~10× slower on wasm) would dominate its cost.
   */
  transposed: ParamMap;
}

export const bertParamName = {
  wordEmbeddings: 'embeddings.word_embeddings.weight',
  /** FFN key matrix of layer l, [f, d]: row j is neuron j's key. */
  ffnIn: (l: number) => `encoder.layer.${l}.intermediate.dense.weight`,
  /** FFN value matrix of layer l, [d, f]: column j is neuron j's value vector. */
  ffnOut: (l: number) => `encoder.layer.${l}.output.dense.weight`,
};

export function bertParamShapes(c: BertConfig): Map<string, number[]> {
  const d = c.hiddenSize;
  const f = c.intermediateSize;
  const shapes = new Map<string, number[]>([
    ['embeddings.word_embeddings.weight', [c.vocabSize, d]],
    ['embeddings.position_embeddings.weight', [c.maxPositions, d]],
    ['embeddings.token_type_embeddings.weight', [c.typeVocabSize, d]],
    ['embeddings.LayerNorm.weight', [d]],
    ['embeddings.LayerNorm.bias', [d]],
    ['cls.predictions.transform.dense.weight', [d, d]],
    ['cls.predictions.transform.dense.bias', [d]],
    ['cls.predictions.transform.LayerNorm.weight', [d]],
    ['cls.predictions.transform.LayerNorm.bias', [d]],
    ['cls.predictions.bias', [c.vocabSize]],
  ]);
  for (let l = 0; l < c.nLayer; l++) {
    const p = `encoder.layer.${l}.`;
    for (const m of ['query', 'key', 'value']) shapes.set(`${p}attention.self.${m}.weight`, [d, d]).set(`${p}attention.self.${m}.bias`, [d]);
    shapes.set(`${p}attention.output.dense.weight`, [d, d]).set(`${p}attention.output.dense.bias`, [d]);
    shapes.set(`${p}attention.output.LayerNorm.weight`, [d]).set(`${p}attention.output.LayerNorm.bias`, [d]);
    shapes.set(`${p}intermediate.dense.weight`, [f, d]).set(`${p}intermediate.dense.bias`, [f]);
    shapes.set(`${p}output.dense.weight`, [d, f]).set(`${p}output.dense.bias`, [d]);
    shapes.set(`${p}output.LayerNorm.weight`, [d]).set(`${p}output.LayerNorm.bias`, [d]);
  }
  return shapes;
}

/** Matrices the forward multiplies by (and so keeps transposed); the position and segment tables are only looked up. */
export function isMultipliedWeight(name: string, rank: number): boolean {
  return rank === 2 && !/position_embeddings|token_type_embeddings/.test(name);
}

/**
 * Tensors HF BERT files carry that the masked-LM forward does not use: the pooler and the
 * next-sentence head, the position-id buffer, and the decoder weight (tied to the word
 * embeddings by HF, which bertConfig requires).
 */
const IGNORED = /^pooler\.|^cls\.seq_relationship\.|^embeddings\.position_ids$|^cls\.predictions\.decoder\.weight$/;

/** HF name → factlab name: drop `bert.`, old TF-converted LayerNorm names, the decoder-bias alias. */
function canonicalName(rawName: string): string {
  let name = rawName.startsWith('bert.') ? rawName.slice('bert.'.length) : rawName;
  name = name.replace(/\.LayerNorm\.gamma$/, '.LayerNorm.weight').replace(/\.LayerNorm\.beta$/, '.LayerNorm.bias');
  return name === 'cls.predictions.decoder.bias' ? 'cls.predictions.bias' : name;
}

/** The one place where checkpoint tensors become BERT parameters, with every name and shape checked. */
export function bertWeightsFromTensors(config: BertConfig, tensors: Map<string, TensorData>): BertWeights {
  const expected = bertParamShapes(config);
  const found = new Map<string, TensorData>();
  for (const [rawName, tensor] of tensors) {
    const name = canonicalName(rawName);
    if (IGNORED.test(name)) continue;
    const shape = expected.get(name);
    if (!shape) {
      throw new FactlabError('unexpected-tensor', `Checkpoint has tensor "${rawName}", which a BERT with ${config.nLayer} layers does not have. Check that config.json belongs to this checkpoint.`);
    }
    if (shape.length !== tensor.shape.length || shape.some((s, i) => s !== tensor.shape[i])) {
      throw new FactlabError('shape-mismatch', `Tensor "${rawName}" has shape [${tensor.shape.join(', ')}] but config.json implies [${shape.join(', ')}]. The config and weights do not match.`);
    }
    // HF files written since v4 carry both cls.predictions.bias and its decoder alias; they are one tensor.
    if (!found.has(name) || rawName.endsWith('cls.predictions.bias')) found.set(name, tensor);
  }
  const missing = [...expected.keys()].filter((n) => !found.has(n));
  if (missing.some((n) => n.startsWith('cls.'))) {
    throw new FactlabError('missing-tensor', 'Checkpoint has no masked-LM head (cls.predictions.*). Load a BertForMaskedLM checkpoint, not a bare BertModel.');
  }
  if (missing.length > 0) {
    const list = missing.slice(0, 5).join(', ') + (missing.length > 5 ? `, … (${missing.length} in all)` : '');
    throw new FactlabError('missing-tensor', `Checkpoint is missing tensor(s): ${list}.`);
  }
  const params: ParamMap = new Map();
  const transposed: ParamMap = new Map();
  for (const [name, t] of found) {
    const param = tf.tensor(t.data, t.shape, 'float32');
    params.set(name, param);
    if (isMultipliedWeight(name, param.rank)) {
      const transpose = tf.transpose(param);
      registerTransposePair(param, transpose);
      transposed.set(name, transpose);
    }
  }
  return { config, params, transposed };
}

export function disposeBertWeights(weights: BertWeights): void {
  for (const t of [...weights.params.values(), ...weights.transposed.values()]) t.dispose();
  weights.params.clear();
  weights.transposed.clear();
}
