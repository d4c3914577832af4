/**
 * The one typed protocol between the page and the engine's worker. Every call is a
 * request with an id; the worker answers with progress events and then exactly one
 * result or error. Large numeric results travel as transferred ArrayBuffers.
 */
import type { BackendInfo, BackendName } from '../core/backend';
import type { ModelInfo, PredictRequest, PredictResult } from '../core/engine';
import type { FileLike, ModelSource } from '../core/hub/source';

export interface Progress {
  /** 0…1 over the whole operation. */
  fraction: number;
  stage: string;
  detail?: string;
  /** Seconds left, when it can be estimated. */
  etaSeconds?: number;
}

export interface CachedModel {
  id: string;
  files: Array<{ name: string; bytes: number }>;
  totalBytes: number;
}

/** Each method: [argument, result]. */
export interface EngineApi {
  init: [{ backend?: BackendName }, BackendInfo];
  load: [{ source: ModelSource | { kind: 'files'; files: FileLike[] } }, ModelInfo];
  predict: [PredictRequest, PredictResult];
  listCache: [Record<string, never>, CachedModel[]];
  clearCache: [{ id?: string }, { cleared: number }];
}
export type Method = keyof EngineApi;

export type WorkerRequest =
  | { kind: 'call'; id: number; method: Method; args: unknown }
  | { kind: 'cancel'; id: number };

export type WorkerResponse =
  | { kind: 'progress'; id: number; progress: Progress }
  | { kind: 'result'; id: number; result: unknown }
  | { kind: 'error'; id: number; error: { code: string; message: string } };
