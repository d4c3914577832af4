/**
 * Mask files (safetensors). Tensors are named like the parameters they mask
 * (`h.3.mlp.c_fc.weight`); `__metadata__` records what the mask belongs to.
 *
 * - encoding 'logits': the mask logits s as F32 tensors of the weight's shape (a checkpoint
 *   training can resume from).
 * - encoding 'bits': the final subnetwork mask 1[s > 0] bit-packed as U8 tensors of
 *   ⌈n/8⌉ bytes, most significant bit first (numpy.unpackbits' default order); the shapes
 *   are in the metadata. 1 = the weight belongs to the subnetwork (is removed from the
 *   remaining model).
 *
 * Metadata: format, version, encoding, model, layers, n_layer, n_embd, n_inner, seed, step,
 * sparsity, settings (JSON) and, for bits, shapes (JSON), bit_order, bit_meaning.
 */
import { FactlabError, previewValue } from '../errors';
import { parseSafetensors, writeSafetensors, type TensorToWrite } from '../model/safetensors';
import { binaryFromState, binarySparsity, type BinaryMask } from './binary';
import { maskEntries, sparsityReport, type MaskDims, type MaskEntry, type MaskState } from './mask';

export const MASK_FILE_FORMAT = 'factlab-subnetwork-mask';
export const MASK_FILE_VERSION = '1';
export type MaskEncoding = 'logits' | 'bits';

export interface MaskFileInfo {
  /** Id of the model the mask was trained on (e.g. `hub:openai-community/gpt2@abc123`). */
  modelId: string;
  seed?: number;
  step?: number;
  /** Training settings, stored as JSON. */
  settings?: unknown;
}

export interface ImportedMask {
  encoding: MaskEncoding;
  info: MaskFileInfo & { sparsity?: number };
  dims: MaskDims;
  layers: number[];
  entries: MaskEntry[];
  /** Only for encoding 'logits'. */
  logits?: Map<string, Float32Array>;
  /** The subnetwork mask (1[s > 0] for logits). */
  binary: BinaryMask;
}

function bad(message: string, fileName: string): FactlabError {
  return new FactlabError('bad-mask-file', `${fileName}: ${message}`);
}

function metadataFor(encoding: MaskEncoding, dims: MaskDims, layers: number[], info: MaskFileInfo, sparsity: number): Record<string, string> {
  const meta: Record<string, string> = {
    format: MASK_FILE_FORMAT,
    version: MASK_FILE_VERSION,
    encoding,
    model: info.modelId,
    layers: JSON.stringify(layers),
    n_layer: String(dims.nLayer),
    n_embd: String(dims.nEmbd),
    n_inner: String(dims.nInner),
    sparsity: String(sparsity),
  };
  if (info.seed !== undefined) meta.seed = String(info.seed);
  if (info.step !== undefined) meta.step = String(info.step);
  if (info.settings !== undefined) meta.settings = JSON.stringify(info.settings);
  return meta;
}

/** The logits as a safetensors file (F32). */
export async function exportMaskLogits(state: MaskState, info: MaskFileInfo): Promise<Uint8Array> {
  const tensors: Record<string, TensorToWrite> = {};
  const kept: number[] = [];
  for (const e of state.entries) {
    const data = (await state.logits.get(e.name)!.data()) as Float32Array;
    tensors[e.name] = { shape: e.shape, data };
    let n = 0;
    for (let i = 0; i < data.length; i++) if (data[i] > 0) n++;
    kept.push(n);
  }
  return writeSafetensors(tensors, metadataFor('logits', state.dims, state.layers, info, sparsityReport(state.entries, kept).sparsity));
}

export function packBits(bits: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bits.length / 8));
  for (let i = 0; i < bits.length; i++) if (bits[i]) out[i >> 3] |= 0x80 >> (i & 7);
  return out;
}

export function unpackBits(packed: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (packed[i >> 3] >> (7 - (i & 7))) & 1;
  return out;
}

/** The binary mask, bit-packed, as a safetensors file with U8 tensors. */
export function exportMaskBits(mask: BinaryMask, info: MaskFileInfo): Uint8Array {
  const meta = metadataFor('bits', mask.dims, mask.layers, info, binarySparsity(mask).sparsity);
  meta.shapes = JSON.stringify(Object.fromEntries(mask.entries.map((e) => [e.name, e.shape])));
  meta.bit_order = 'msb-first';
  meta.bit_meaning = '1 = weight in the subnetwork (removed from the remaining model)';
  const tensors = Object.fromEntries(mask.entries.map((e) => {
    const bytes = packBits(mask.bits.get(e.name)!);
    return [e.name, { shape: [bytes.length], bytes, dtype: 'U8' as const }];
  }));
  return writeSafetensors(tensors, meta);
}

export async function exportMaskBitsFromState(state: MaskState, info: MaskFileInfo): Promise<Uint8Array> {
  return exportMaskBits(await binaryFromState(state), info);
}

function parseNumber(meta: Record<string, unknown>, key: string, fileName: string, required: boolean): number | undefined {
  const raw = meta[key];
  if (raw === undefined) {
    if (required) throw bad(`the metadata has no "${key}".`, fileName);
    return undefined;
  }
  // Number() of an array would stringify it (and overflow the stack when deeply nested).
  const value = typeof raw === 'string' || typeof raw === 'number' ? Number(raw) : NaN;
  if (!Number.isFinite(value)) throw bad(`metadata "${key}" is not a number: ${previewValue(raw)}.`, fileName);
  return value;
}

function parseJson(meta: Record<string, unknown>, key: string, fileName: string): unknown {
  const raw = meta[key];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string') throw bad(`metadata "${key}" must be a JSON string, got ${previewValue(raw)}.`, fileName);
  try {
    return JSON.parse(raw);
  } catch {
    throw bad(`metadata "${key}" is not valid JSON.`, fileName);
  }
}

export interface ImportOptions {
  /** The model the mask will be applied to: the mask must have been made for this shape. */
  dims: MaskDims;
  /** When given, the mask's model id must match (e.g. the loaded model's id). */
  modelId?: string;
  fileName?: string;
}

/** Reads and validates a mask file of either encoding. */
export function importMask(bytes: Uint8Array, options: ImportOptions): ImportedMask {
  const fileName = options.fileName ?? 'mask.safetensors';
  let parsed: ReturnType<typeof parseSafetensors>;
  try {
    parsed = parseSafetensors(bytes, fileName, { allowU8: true });
  } catch (err) {
    throw err instanceof FactlabError ? new FactlabError('bad-mask-file', err.message) : err;
  }
  const { tensors, metadata: meta } = parsed;
  if (meta.format !== MASK_FILE_FORMAT) throw bad(`this is not a factlab subnetwork mask (metadata format is ${previewValue(meta.format ?? null)}).`, fileName);
  if (meta.version !== MASK_FILE_VERSION) throw bad(`mask file version ${previewValue(meta.version)} is not supported (expected ${MASK_FILE_VERSION}).`, fileName);
  const encoding = meta.encoding as MaskEncoding;
  if (encoding !== 'logits' && encoding !== 'bits') throw bad(`unknown encoding ${previewValue(meta.encoding)} (expected "logits" or "bits").`, fileName);
  if (meta.model !== undefined && typeof meta.model !== 'string') throw bad(`metadata "model" must be a string, got ${previewValue(meta.model)}.`, fileName);
  const modelId = typeof meta.model === 'string' ? meta.model : '';
  if (options.modelId !== undefined && modelId !== options.modelId) {
    throw new FactlabError('mask-model-mismatch', `${fileName}: the mask was made for model "${modelId}", not for the loaded model "${options.modelId}".`);
  }
  const fileDims = { nLayer: parseNumber(meta, 'n_layer', fileName, true)!, nEmbd: parseNumber(meta, 'n_embd', fileName, true)!, nInner: parseNumber(meta, 'n_inner', fileName, true)! };
  const { dims } = options;
  if (fileDims.nLayer !== dims.nLayer || fileDims.nEmbd !== dims.nEmbd || fileDims.nInner !== dims.nInner) {
    throw new FactlabError('mask-model-mismatch', `${fileName}: the mask is for a model with ${fileDims.nLayer} layers, width ${fileDims.nEmbd} and FFN ${fileDims.nInner}; the loaded model has ${dims.nLayer}, ${dims.nEmbd} and ${dims.nInner}.`);
  }
  const layers = parseJson(meta, 'layers', fileName);
  if (!Array.isArray(layers) || !layers.every((l) => Number.isInteger(l))) throw bad('metadata "layers" must be a JSON list of layer numbers.', fileName);
  let entries: MaskEntry[];
  try {
    entries = maskEntries(dims, layers as number[]);
  } catch (err) {
    throw bad(`metadata "layers": ${(err as Error).message}`, fileName);
  }
  const names = [...tensors.keys()];
  const expected = new Set(entries.map((e) => e.name));
  const extra = names.filter((n) => !expected.has(n));
  const missing = [...expected].filter((n) => !names.includes(n));
  if (extra.length || missing.length) {
    throw bad(`the tensors do not match the masked layers [${layers.join(', ')}]${missing.length ? `; missing ${missing.join(', ')}` : ''}${extra.length ? `; unexpected ${extra.join(', ')}` : ''}.`, fileName);
  }
  const info = { modelId, seed: parseNumber(meta, 'seed', fileName, false), step: parseNumber(meta, 'step', fileName, false), settings: parseJson(meta, 'settings', fileName), sparsity: parseNumber(meta, 'sparsity', fileName, false) };
  const bits = new Map<string, Uint8Array>();
  let logits: Map<string, Float32Array> | undefined;
  if (encoding === 'logits') {
    logits = new Map();
    for (const e of entries) {
      const t = tensors.get(e.name)!;
      if (t.dtype !== 'F32') throw bad(`tensor ${e.name} is ${t.dtype}; mask logits are F32.`, fileName);
      if (t.shape.length !== 2 || t.shape[0] !== e.shape[0] || t.shape[1] !== e.shape[1]) throw bad(`tensor ${e.name} has shape [${t.shape.join(', ')}]; the model needs [${e.shape.join(', ')}].`, fileName);
      const out = new Uint8Array(e.size);
      for (let i = 0; i < e.size; i++) {
        if (!Number.isFinite(t.data[i])) throw bad(`tensor ${e.name} holds a non-finite logit at index ${i}.`, fileName);
        out[i] = t.data[i] > 0 ? 1 : 0;
      }
      logits.set(e.name, t.data);
      bits.set(e.name, out);
    }
  } else {
    const shapes = parseJson(meta, 'shapes', fileName) as Record<string, unknown> | undefined;
    for (const e of entries) {
      const shape = shapes?.[e.name];
      if (!Array.isArray(shape) || shape.length !== 2 || shape[0] !== e.shape[0] || shape[1] !== e.shape[1]) {
        throw bad(`metadata "shapes" gives ${previewValue(shape ?? null)} for ${e.name}; the model needs [${e.shape.join(', ')}].`, fileName);
      }
      const t = tensors.get(e.name)!;
      const bytesNeeded = Math.ceil(e.size / 8);
      if (t.dtype !== 'U8' || t.shape.length !== 1 || t.shape[0] !== bytesNeeded) {
        throw bad(`tensor ${e.name} must be U8 with shape [${bytesNeeded}] (bit-packed), got ${t.dtype} [${t.shape.join(', ')}].`, fileName);
      }
      bits.set(e.name, unpackBits(t.bytes!, e.size));
    }
  }
  const sortedLayers = entries.filter((_, i) => i % 4 === 0).map((e) => e.layer);
  return { encoding, info, dims: { ...dims }, layers: sortedLayers, entries, logits, binary: { dims: { ...dims }, layers: sortedLayers, entries, bits } };
}
