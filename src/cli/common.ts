/** What every CLI command shares: argument parsing with clear errors, model loading, output. */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { isBackendName } from '../core/backend';
import { loadEngine as loadModel, requireGpt2, type Engine, type Gpt2Engine } from '../core/engine';
import { FactlabError } from '../core/errors';
import { parseModelSource } from '../core/hub/source';
import { initNodeBackend } from './node-backend';

export const DEFAULT_MODEL_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../public/models/default');

export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, command: string) {
  try {
    return parseArgs({ args: argv, options: { ...options, json: { type: 'boolean' }, backend: { type: 'string' } }, allowPositionals: false, strict: true }).values;
  } catch (err) {
    throw new FactlabError('usage', `${command}: ${(err as Error).message.split('\n')[0]} (run \`factlab --help\`).`);
  }
}

export async function loadEngine(modelSpec: string | undefined, backend: string | undefined): Promise<Engine> {
  if (!modelSpec) throw new FactlabError('usage', '--model is required (e.g. --model default).');
  const backendName = backend ?? 'wasm';
  if (!isBackendName(backendName) || backendName === 'webgl') throw new FactlabError('usage', `--backend must be wasm, cpu or webgpu, got "${backendName}".`);
  await initNodeBackend(backendName);
  return loadModel(parseModelSource(modelSpec, { localExists: existsSync }), { defaultLocation: DEFAULT_MODEL_DIR });
}

/** For the commands whose method is GPT-2 only: a BERT checkpoint gets the reason, before any work. */
export async function loadGpt2Engine(modelSpec: string | undefined, backend: string | undefined, what: 'degeneracy' | 'subnetwork'): Promise<Gpt2Engine> {
  const engine = await loadEngine(modelSpec, backend);
  try {
    return requireGpt2(engine, what);
  } catch (err) {
    engine.dispose();
    throw err;
  }
}

export function parseIntList(text: string, flag: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const values = parts.map(Number);
  const bad = parts.findIndex((s, i) => s === '' || !Number.isInteger(values[i]));
  if (bad >= 0) throw new FactlabError('usage', `${flag} must be a comma-separated list of integers; "${parts[bad]}" is not one.`);
  return values;
}

/** `--layers A-B` or `A` → [A, B], checked against the model's layers. */
export function parseLayerRange(text: string, nLayer: number): [number, number] {
  const match = /^(\d+)(?:-(\d+))?$/.exec(text);
  if (!match) throw new FactlabError('usage', `--layers must be A-B or A, got "${text}".`);
  const from = Number(match[1]);
  const to = match[2] === undefined ? from : Number(match[2]);
  if (to >= nLayer || from > to) throw new FactlabError('usage', `--layers ${text} is outside 0-${nLayer - 1}.`);
  return [from, to];
}

export function parsePositiveInt(text: string | undefined, flag: string, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new FactlabError('usage', `${flag} must be an integer from 1 to ${max}, got "${text}".`);
  return value;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

