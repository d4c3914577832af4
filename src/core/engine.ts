/**
 * The engine holds one loaded model and runs every operation on it: `Gpt2Engine` for causal
 * checkpoints, `BertEngine` for masked ones, chosen from config.json. Both answer the same
 * calls (engine-api.ts); the worker exposes them to the page, the CLI and tests use them in Node.
 */
import { BertEngine } from './bert-engine';
import { Gpt2Engine } from './gpt2-engine';
import type { Gpt2OnlyMethod } from './gpt2-only';
import { loadCheckpointFiles, type CheckpointFiles, type LoadOptions } from './hub/checkpoint';
import type { ModelSource } from './hub/source';
import { checkpointArchitecture } from './model/bert-model';

export * from './engine-api';
export { BertEngine, Gpt2Engine };

export type Engine = Gpt2Engine | BertEngine;

export function engineFromCheckpoint(files: CheckpointFiles): Engine {
  return checkpointArchitecture(files.configJson) === 'bert' ? BertEngine.fromCheckpoint(files) : Gpt2Engine.fromCheckpoint(files);
}

export async function loadEngine(source: ModelSource, options: LoadOptions = {}): Promise<Engine> {
  return engineFromCheckpoint(await loadCheckpointFiles(source, options));
}

/** The GPT-2 engine, or the reason why `what` needs one. */
export function requireGpt2(engine: Engine, what: Gpt2OnlyMethod): Gpt2Engine {
  if (engine.arch === 'gpt2') return engine;
  throw BertEngine.whyNot(what);
}
