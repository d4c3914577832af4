/**
 * safetensors reader/writer: 8-byte little-endian header length, a JSON header,
 * then a data buffer that the header's offsets are relative to.
 * Every size field is checked against the actual bytes before anything is allocated,
 * so a header that lies cannot make us allocate or read out of bounds.
 */
import { FactlabError, previewValue } from '../errors';

/** Float dtypes: model weights. */
export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';
/** Everything factlab reads: floats, and U8 for byte data such as bit-packed masks (only when asked for). */
export type StoredDtype = SafetensorsDtype | 'U8';
const BYTES_PER_ELEMENT: Record<StoredDtype, number> = { F32: 4, F16: 2, BF16: 2, U8: 1 };
/** Headers above this are not model files (real GPT-2/BERT headers are ~10–20 kB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export interface TensorData {
  dtype: StoredDtype;
  shape: number[];
  /** Always float32, whatever the stored dtype. */
  data: Float32Array;
  /** U8 only: the stored bytes (a view into the input). */
  bytes?: Uint8Array;
}

export interface ParseOptions {
  /** Accept U8 tensors (model files never hold them, so by default they are an unsupported dtype). */
  allowU8?: boolean;
}

export interface Safetensors {
  tensors: Map<string, TensorData>;
  metadata: Record<string, string>;
}

function bad(message: string): FactlabError {
  return new FactlabError('bad-safetensors', `Invalid safetensors file: ${message}`);
}

export function parseSafetensors(input: ArrayBuffer | Uint8Array, fileName = 'model.safetensors', options: ParseOptions = {}): Safetensors {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  const where = (msg: string) => bad(`${fileName}: ${msg}`);
  if (bytes.byteLength < 8) throw where(`only ${bytes.byteLength} bytes; the file is truncated or not a safetensors file.`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES) throw where(`header claims ${headerLength} bytes (limit ${MAX_HEADER_BYTES}); this is not a model file.`);
  if (8 + headerLength > bytes.byteLength) {
    throw where(`header claims ${headerLength} bytes but the file has only ${bytes.byteLength - 8} after the length field; the file is truncated.`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    throw where('the header is not valid UTF-8 JSON.');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw where('the header is not a JSON object.');

  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const tensors = new Map<string, TensorData>();
  let metadata: Record<string, string> = {};
  const spans: Array<[number, number, string]> = [];

  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw where('__metadata__ must be an object of strings.');
      const nonString = Object.entries(entry).find(([, v]) => typeof v !== 'string');
      // The format (and the Python library) allows only strings here.
      if (nonString) throw where(`__metadata__ "${nonString[0]}" is ${previewValue(nonString[1])}, not a string.`);
      metadata = { ...(entry as Record<string, string>) };
      continue;
    }
    if (typeof entry !== 'object' || entry === null) throw where(`entry "${name}" is not an object.`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string') throw where(`tensor "${name}" has no dtype.`);
    if (!Object.hasOwn(BYTES_PER_ELEMENT, dtype) || (dtype === 'U8' && !options.allowU8)) {
      throw new FactlabError('unsupported-dtype', `${fileName}: tensor "${name}" has dtype ${dtype}; factlab reads F32, F16 and BF16. Convert the checkpoint to one of these.`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw where(`tensor "${name}" has an invalid shape ${previewValue(shape)}.`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw where(`tensor "${name}" has invalid data_offsets ${previewValue(offsets)}.`);
    }
    const [begin, end] = offsets as [number, number];
    const elementBytes = BYTES_PER_ELEMENT[dtype as StoredDtype];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end < begin || end > dataLength) {
      throw where(`tensor "${name}" claims bytes ${begin}..${end} but the data section has ${dataLength} bytes; the file is truncated or the header lies.`);
    }
    if (end - begin !== count * elementBytes) {
      throw where(`tensor "${name}" has shape [${shape.join(', ')}] (${count * elementBytes} bytes as ${dtype}) but its offsets span ${end - begin} bytes.`);
    }
    // An empty tensor occupies no bytes, so it may share its offset with a neighbour.
    if (end > begin) spans.push([begin, end, name]);
    if (dtype === 'U8') {
      const stored = bytes.subarray(dataStart + begin, dataStart + end);
      tensors.set(name, { dtype, shape: shape as number[], data: Float32Array.from(stored), bytes: stored });
    } else {
      tensors.set(name, { dtype: dtype as SafetensorsDtype, shape: shape as number[], data: decode(bytes, dataStart + begin, count, dtype as SafetensorsDtype) });
    }
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) throw where(`tensors "${spans[i - 1][2]}" and "${spans[i][2]}" overlap.`);
  }
  return { tensors, metadata };
}

function decode(bytes: Uint8Array, start: number, count: number, dtype: SafetensorsDtype): Float32Array {
  if (dtype === 'F32') {
    // Float32Array needs 4-byte alignment; copy when the offset is not aligned.
    const absolute = bytes.byteOffset + start;
    if (absolute % 4 === 0) return new Float32Array(bytes.buffer.slice(absolute, absolute + count * 4));
    return new Float32Array(bytes.slice(start, start + count * 4).buffer);
  }
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, count * 2);
  if (dtype === 'BF16') {
    const u32 = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) u32[i] = view.getUint16(i * 2, true) << 16;
  } else {
    for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  }
  return out;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

export function floatToHalf(value: number): number {
  const f32 = new Float32Array([value]);
  const x = new Uint32Array(f32.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = ((x >>> 23) & 0xff) - 127 + 15;
  let mantissa = x & 0x7fffff;
  if (((x >>> 23) & 0xff) === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  if (exponent >= 0x1f) return sign | 0x7c00;
  if (exponent <= 0) {
    if (exponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - exponent;
    let half = mantissa >> shift;
    if ((mantissa >> (shift - 1)) & 1 && ((mantissa & ((1 << (shift - 1)) - 1)) || half & 1)) half++;
    return sign | half;
  }
  let half = sign | (exponent << 10) | (mantissa >> 13);
  if (mantissa & 0x1000 && (mantissa & 0xfff || half & 1)) half++;
  return half;
}

export interface TensorToWrite {
  shape: number[];
  data: Float32Array;
  dtype?: SafetensorsDtype;
}

export interface ByteTensorToWrite {
  shape: number[];
  bytes: Uint8Array;
  dtype: 'U8';
}

/** Writes tensors in name order (as the Python library does), 8-byte aligned header. */
export function writeSafetensors(tensors: Record<string, TensorToWrite | ByteTensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const dtype = t.dtype ?? 'F32';
    const count = t.shape.reduce((a, b) => a * b, 1);
    const length = 'bytes' in t ? t.bytes.length : t.data.length;
    if (count !== length) throw new FactlabError('bad-tensor', `Tensor "${name}" has ${length} values but shape [${t.shape.join(', ')}].`);
    const size = count * BYTES_PER_ELEMENT[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  headerBytes = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(padded - headerBytes.length));
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let cursor = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors[name];
    if ('bytes' in t) {
      out.set(t.bytes, cursor);
      cursor += t.bytes.length;
    } else if ((t.dtype ?? 'F32') === 'F32') {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), cursor);
      cursor += t.data.byteLength;
    } else {
      const u32 = new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length);
      for (let i = 0; i < t.data.length; i++, cursor += 2) {
        view.setUint16(cursor, t.dtype === 'F16' ? floatToHalf(t.data[i]) : roundToBf16(u32[i]), true);
      }
    }
  }
  return out;
}

function roundToBf16(bits: number): number {
  if ((bits & 0x7f800000) === 0x7f800000) return bits >>> 16;
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}
