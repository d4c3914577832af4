/**
 * Reads a Hugging Face–layout checkpoint from any source into plain data:
 * config.json, safetensors weights (single file or sharded with an index) and the
 * tokenizer files. Turning these into a model is the model layer's job.
 *
 * Order: config.json → tokenizer → weights, so that a folder without a tokenizer fails
 * before a large weights download. Progress goes from 0 to 1 over the whole load
 * (weights take almost all of it); cancellation works at every step.
 */
import { FactlabError, throwIfAborted } from '../errors';
import { parseSafetensors, type TensorData } from '../model/safetensors';
import { checkFileName, createFileProvider, type FileProvider, type FileProviderOptions } from './files';
import { sourceId, type ModelSource } from './source';

export interface CheckpointProgress {
  stage: 'download' | 'parse';
  file: string;
  loaded: number;
  total?: number;
  /** Overall progress of the whole load, 0..1, never decreasing; the last event has 1. */
  fraction: number;
  /** The file came from the browser cache. */
  cached?: boolean;
  /** Estimated seconds left, from the overall rate so far (absent until there is a rate). */
  etaSeconds?: number;
}

export interface TokenizerFiles {
  vocabJson?: string;
  mergesText?: string;
  tokenizerJson?: string;
  vocabTxt?: string;
  /** tokenizer_config.json (read for BERT: it holds do_lower_case). */
  tokenizerConfigJson?: string;
}

export interface CheckpointFiles {
  sourceId: string;
  source: ModelSource;
  configJson: unknown;
  tensors: Map<string, TensorData>;
  tokenizer: TokenizerFiles;
  /** safetensors `__metadata__` (merged over shards). */
  metadata: Record<string, string>;
  /** Every file read, in the order read. */
  files: Array<{ name: string; bytes: number }>;
}

export interface LoadCheckpointOptions extends FileProviderOptions {
  signal?: AbortSignal;
  onProgress?: (event: CheckpointProgress) => void;
  /** Largest weights file accepted (default 8 GiB). */
  maxWeightBytes?: number;
  /** Read from this provider instead of one made from `source` (tests, custom storage). */
  provider?: FileProvider;
}

/** Alias of LoadCheckpointOptions (the name the engine uses). */
export type LoadOptions = LoadCheckpointOptions;

export const DEFAULT_MAX_WEIGHT_BYTES = 8 * 1024 ** 3;
/** Limit for config/tokenizer/index files (real ones are at most a few tens of MB). */
const MAX_TEXT_BYTES = 128 * 1024 ** 2;

const WEIGHTS = 'model.safetensors';
const WEIGHTS_INDEX = 'model.safetensors.index.json';
const OTHER_WEIGHT_FORMATS = ['pytorch_model.bin', 'pytorch_model.bin.index.json', 'tf_model.h5', 'flax_model.msgpack'];

const CONVERT_HINT =
  'only safetensors checkpoints are supported; convert with: ' +
  `python -c "import transformers as t; t.AutoModelForCausalLM.from_pretrained('IN').save_pretrained('OUT')" ` +
  '(AutoModelForMaskedLM for BERT; transformers ≥ 4.35 saves model.safetensors), ' +
  'or with the Hub Space https://huggingface.co/spaces/safetensors/convert.';

// Overall progress budget: config, tokenizer, weights.
const CONFIG_END = 0.01;
const TOKENIZER_END = 0.05;
const TOKENIZER_SLOT = (TOKENIZER_END - CONFIG_END) / 4;
const PARSE_SHARE = 0.05;

export async function loadCheckpointFiles(source: ModelSource, options: LoadCheckpointOptions = {}): Promise<CheckpointFiles> {
  const provider = options.provider ?? createFileProvider(source, options);
  const { signal } = options;
  const where = provider.description;
  const progress = new ProgressReporter(options.onProgress);
  const files: Array<{ name: string; bytes: number }> = [];

  /** Reads one file, reporting download progress mapped into [start, end] of the overall fraction. */
  const read = async (name: string, start: number, end: number, maxBytes: number): Promise<Uint8Array | null> => {
    throwIfAborted(signal, 'model loading');
    let cached = false;
    const bytes = await provider.get(name, {
      signal,
      maxBytes,
      onCacheHit: () => {
        cached = true;
      },
      onProgress: (loaded, total) => progress.report('download', name, loaded, total, start + (end - start) * share(loaded, total), cached),
    });
    throwIfAborted(signal, 'model loading');
    if (bytes) {
      files.push({ name, bytes: bytes.byteLength });
      progress.report('download', name, bytes.byteLength, bytes.byteLength, end, cached);
    }
    return bytes;
  };
  const readText = async (name: string, start: number, end: number): Promise<string | undefined> => {
    const bytes = await read(name, start, end, MAX_TEXT_BYTES);
    return bytes ? decodeText(bytes, name, where) : undefined;
  };

  // 1. config.json
  const configText = await readText('config.json', 0, CONFIG_END);
  if (configText === undefined) {
    throw new FactlabError(
      'missing-config',
      `No config.json in ${where}. A checkpoint needs config.json, model.safetensors (or model.safetensors.index.json with its shards) and tokenizer files (vocab.json + merges.txt, or tokenizer.json).`,
    );
  }
  const configJson = parseJson(configText, 'config.json', where, 'bad-config');
  if (typeof configJson !== 'object' || configJson === null || Array.isArray(configJson)) {
    throw new FactlabError('bad-config', `config.json in ${where} must be a JSON object.`);
  }

  // 2. tokenizer
  let slot = 0;
  const readTokenizerFile = (name: string) => {
    const start = CONFIG_END + TOKENIZER_SLOT * slot;
    slot = Math.min(slot + 1, 4);
    return readText(name, start, CONFIG_END + TOKENIZER_SLOT * slot);
  };
  const tokenizer: TokenizerFiles = {};
  const rawModelType = (configJson as Record<string, unknown>).model_type;
  // Not String(): a nested value there would overflow the stack; parseGpt2Config reports it.
  const modelType = typeof rawModelType === 'string' ? rawModelType : '';
  let lookedFor: string;
  if (/bert/i.test(modelType)) {
    lookedFor = 'vocab.txt or tokenizer.json';
    assign(tokenizer, 'vocabTxt', await readTokenizerFile('vocab.txt'));
    if (!tokenizer.vocabTxt) assign(tokenizer, 'tokenizerJson', await readTokenizerFile('tokenizer.json'));
    assign(tokenizer, 'tokenizerConfigJson', await readTokenizerFile('tokenizer_config.json'));
  } else {
    lookedFor = 'vocab.json + merges.txt, or tokenizer.json';
    assign(tokenizer, 'vocabJson', await readTokenizerFile('vocab.json'));
    assign(tokenizer, 'mergesText', await readTokenizerFile('merges.txt'));
    if (!tokenizer.vocabJson || !tokenizer.mergesText) assign(tokenizer, 'tokenizerJson', await readTokenizerFile('tokenizer.json'));
  }
  if (!tokenizer.vocabTxt && !tokenizer.tokenizerJson && !(tokenizer.vocabJson && tokenizer.mergesText)) {
    const partial = tokenizer.vocabJson ? ' (found vocab.json but not merges.txt)' : tokenizer.mergesText ? ' (found merges.txt but not vocab.json)' : '';
    throw new FactlabError('missing-tokenizer', `No tokenizer in ${where}: looked for ${lookedFor}${partial}. Add the tokenizer files of this model to the folder.`);
  }

  // 3. weights
  const maxWeightBytes = options.maxWeightBytes ?? DEFAULT_MAX_WEIGHT_BYTES;
  const parseShare = (start: number, end: number) => end - (end - start) * PARSE_SHARE;
  const parse = (bytes: Uint8Array, name: string, start: number, end: number) => {
    throwIfAborted(signal, 'model loading');
    progress.report('parse', name, 0, bytes.byteLength, start);
    const parsed = parseSafetensors(bytes, name);
    progress.report('parse', name, bytes.byteLength, bytes.byteLength, end);
    return parsed;
  };

  let tensors: Map<string, TensorData>;
  let metadata: Record<string, string>;
  const single = await read(WEIGHTS, TOKENIZER_END, parseShare(TOKENIZER_END, 1), maxWeightBytes);
  if (single) {
    ({ tensors, metadata } = parse(single, WEIGHTS, parseShare(TOKENIZER_END, 1), 1));
  } else {
    const indexText = await readText(WEIGHTS_INDEX, TOKENIZER_END, TOKENIZER_END + 0.01);
    if (indexText === undefined) {
      for (const other of OTHER_WEIGHT_FORMATS) {
        if (await provider.has(other, { signal })) {
          throw new FactlabError('unsupported-format', `${where} has ${other} but no ${WEIGHTS}: ${CONVERT_HINT}`);
        }
      }
      throw new FactlabError('missing-weights', `No weights in ${where}: looked for ${WEIGHTS} and ${WEIGHTS_INDEX} (factlab reads safetensors checkpoints only).`);
    }
    const weightMap = parseIndex(indexText, where);
    const shards = [...new Set(weightMap.values())].sort();
    const owner = new Map<string, string>();
    tensors = new Map();
    metadata = {};
    const base = TOKENIZER_END + 0.01;
    const width = (1 - base) / shards.length;
    for (let i = 0; i < shards.length; i++) {
      const shard = shards[i];
      const start = base + width * i;
      const end = i === shards.length - 1 ? 1 : start + width;
      const bytes = await read(shard, start, parseShare(start, end), maxWeightBytes);
      if (!bytes) {
        throw new FactlabError('missing-shard', `${WEIGHTS_INDEX} lists shard ${shard}, which is missing from ${where}.`);
      }
      const parsed = parse(bytes, shard, parseShare(start, end), end);
      for (const [tensor, file] of weightMap) {
        if (file === shard && !parsed.tensors.has(tensor)) {
          throw new FactlabError('missing-tensor', `${WEIGHTS_INDEX} says tensor "${tensor}" is in ${shard}, but that shard does not contain it.`);
        }
      }
      for (const [tensor, data] of parsed.tensors) {
        const previous = owner.get(tensor);
        if (previous !== undefined) {
          throw new FactlabError('duplicate-tensor', `Tensor "${tensor}" appears in both ${previous} and ${shard}; the shards do not belong together.`);
        }
        owner.set(tensor, shard);
        tensors.set(tensor, data);
      }
      for (const [key, value] of Object.entries(parsed.metadata)) if (!(key in metadata)) metadata[key] = value;
    }
  }
  progress.finish();
  return { sourceId: provider.id, source, configJson, tensors, tokenizer, metadata, files };
}

function assign(tokenizer: TokenizerFiles, key: keyof TokenizerFiles, value: string | undefined): void {
  if (value !== undefined) tokenizer[key] = value;
}

function share(loaded: number, total: number | undefined): number {
  if (total !== undefined) return total > 0 ? Math.min(1, loaded / total) : 1;
  // Unknown size: creep towards 1 so the bar still moves.
  return loaded / (loaded + 64 * 1024 * 1024);
}

function decodeText(bytes: Uint8Array, name: string, where: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new FactlabError('bad-file', `${name} in ${where} is not UTF-8 text.`);
  }
}

function parseJson(text: string, name: string, where: string, code: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new FactlabError(code, `${name} in ${where} is not valid JSON: ${(err as Error).message}`);
  }
}

function parseIndex(text: string, where: string): Map<string, string> {
  const index = parseJson(text, WEIGHTS_INDEX, where, 'bad-index');
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new FactlabError('bad-index', `${WEIGHTS_INDEX} in ${where} has no "weight_map" object.`);
  }
  const out = new Map<string, string>();
  for (const [tensor, file] of Object.entries(weightMap)) {
    if (typeof file !== 'string') {
      throw new FactlabError('bad-index', `${WEIGHTS_INDEX}: the shard of tensor "${tensor}" must be a file name, got ${JSON.stringify(file)}.`);
    }
    try {
      checkFileName(file);
    } catch {
      throw new FactlabError('bad-index', `${WEIGHTS_INDEX}: shard "${file}" (of tensor "${tensor}") is not a plain file name in the model folder.`);
    }
    if (!file.endsWith('.safetensors')) {
      throw new FactlabError('bad-index', `${WEIGHTS_INDEX}: shard "${file}" is not a .safetensors file; ${CONVERT_HINT}`);
    }
    out.set(tensor, file);
  }
  if (out.size === 0) throw new FactlabError('bad-index', `${WEIGHTS_INDEX} in ${where} lists no tensors.`);
  return out;
}

/** Turns per-file progress into overall events: never decreasing, throttled, ending at exactly 1. */
class ProgressReporter {
  private fraction = 0;
  private emitted = -1;
  private lastKey = '';
  private emittedLoaded = -1;
  private last: CheckpointProgress | undefined;
  private readonly started = Date.now();

  constructor(private readonly callback: ((event: CheckpointProgress) => void) | undefined) {}

  report(stage: CheckpointProgress['stage'], file: string, loaded: number, total: number | undefined, fraction: number, cached = false): void {
    this.fraction = Math.min(1, Math.max(this.fraction, fraction));
    const event: CheckpointProgress = { stage, file, loaded, fraction: this.fraction };
    if (total !== undefined) event.total = total;
    if (cached) event.cached = true;
    const elapsed = (Date.now() - this.started) / 1000;
    if (this.fraction >= 0.01 && this.fraction < 1 && elapsed >= 0.5) {
      event.etaSeconds = Math.round((elapsed * (1 - this.fraction)) / this.fraction * 10) / 10;
    }
    this.last = event;
    if (!this.callback) return;
    const key = `${stage}\u0000${file}`;
    const complete = total !== undefined && loaded >= total;
    if (key === this.lastKey) {
      if (this.fraction - this.emitted < 0.002 && !(complete && loaded !== this.emittedLoaded)) return;
    }
    this.lastKey = key;
    this.emittedLoaded = loaded;
    this.emitted = this.fraction;
    this.callback(event);
  }

  finish(): void {
    if (!this.callback || this.emitted === 1) return;
    this.fraction = 1;
    this.emitted = 1;
    const last = this.last ?? { stage: 'parse' as const, file: '', loaded: 0, fraction: 1 };
    const { etaSeconds: _eta, ...rest } = last;
    this.callback({ ...rest, fraction: 1 });
  }
}
