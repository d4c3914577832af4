/**
 * The one typed protocol between the page and the engine's worker. Every call is a
 * request with an id; the worker answers with progress events and then exactly one
 * result or error. Large numeric results travel as transferred ArrayBuffers.
 */
import type { BackendInfo, BackendName } from '../core/backend';
import type { EditSummary, EraseReplacement, ModelInfo, PredictRequest, PredictResult, TokenView } from '../core/engine';
import type { AttributionResult, AttributionSettings, LayerAttribution, NeuronSite } from '../core/knowledge/attribution';
import type { FactNeuronsResult, NeuronMethod } from '../core/knowledge/neurons';
import type { AnswerProb } from '../core/knowledge/patching';
import type { Neuron, RefineSettings } from '../core/knowledge/refine';
import type { FileLike, ModelSource } from '../core/hub/source';
import type { DknResult } from '../core/degeneracy/dkn';
import type { DknOptions } from '../core/degeneracy/settings';
import type { MaskEncoding } from '../core/subnetwork/mask-io';
import type { SubnetEvaluation } from '../core/subnetwork/metrics';
import type { SubnetProgress } from '../core/subnetwork/progress';
import type { SubnetFacts, SubnetStatus } from '../core/subnetwork/session';
import type { SubnetOptions } from '../core/subnetwork/settings';
import type { SubnetTrainResult } from '../core/subnetwork/trainer';

export interface Progress {
  /** 0…1 over the whole operation. */
  fraction: number;
  stage: string;
  detail?: string;
  /** Seconds left, when it can be estimated. */
  etaSeconds?: number;
  /** `attribute` only: a layer's finished result, streamed as soon as it is complete. */
  layer?: LayerAttribution;
  /** `subnetTrain` only: each training step, evaluation, pause or resume as it happens. */
  subnet?: SubnetProgress;
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
  /** Integrated-gradients attribution of one prompt; each layer's result also streams as a progress event with `layer`. */
  attribute: [{ prompt: string; target: string; settings?: Partial<AttributionSettings> }, AttributionResult & { tokens: TokenView[] }];
  /** A fact's refined knowledge neurons from its paraphrase prompts. */
  factNeurons: [{ prompts: string[]; target: string; method?: NeuronMethod; attribution?: Partial<AttributionSettings>; refine?: RefineSettings }, FactNeuronsResult];
  /** The ≤ 10%-of-relation update filter: the neurons of `neurons` that belong to at most 10% of the relation facts' neuron sets. */
  relationFilter: [{ neurons: Neuron[]; relationFacts: Array<{ prompts: string[]; target: string }>; attribution?: Partial<AttributionSettings>; refine?: RefineSettings }, { kept: Neuron[]; facts: number }];
  /** Degenerate knowledge neurons of a fact: clusters, functional filter, subset-vs-all drops and random controls. */
  degeneracy: [{ prompts: string[]; target: string; options?: DknOptions }, DknResult];
  /** Probabilities before/after scaling neurons, under the active edits. */
  intervene: [{ items: Array<{ prompt: string; target: string }>; neurons: Neuron[]; scale: number; site?: NeuronSite }, Array<{ before: AnswerProb; after: AnswerProb }>];
  /** A neuron's value vector projected on the vocabulary. */
  neuronInfo: [{ neuron: Neuron; top?: number }, { neuron: Neuron; valueNorm: number; promotes: Array<TokenView & { logit: number }>; suppresses: Array<TokenView & { logit: number }> }];
  editFact: [{ prompt: string; target: string; newTarget: string; neurons: Neuron[] }, EditSummary[]];
  eraseNeurons: [{ neurons: Neuron[]; replacement?: EraseReplacement; label?: string }, EditSummary[]];
  /** Reverts one edit (by id) or all of them. */
  revertEdit: [{ id?: string }, EditSummary[]];
  listEdits: [Record<string, never>, EditSummary[]];
  /** Trains a knowledge-critical subnetwork mask (it replaces the current one); steps stream as progress with `subnet`. */
  subnetTrain: [{ facts: SubnetFacts; options?: SubnetOptions }, SubnetTrainResult];
  /** Pauses, resumes or stops the running training (answered at once, not queued behind it). */
  subnetControl: [{ action: 'pause' | 'resume' | 'stop' }, SubnetStatus];
  /** ΔPPL of the remaining model on target and control facts, with the random-mask baseline. */
  subnetEvaluate: [{ facts: SubnetFacts }, SubnetEvaluation];
  /** Removes the subnetwork from the model (predictions and interventions then use the remaining model), or restores it. */
  subnetRemove: [{ removed: boolean }, SubnetStatus];
  subnetStatus: [Record<string, never>, SubnetStatus];
  subnetExport: [{ encoding: MaskEncoding }, { bytes: Uint8Array }];
  subnetImport: [{ bytes: Uint8Array; fileName?: string }, SubnetStatus];
  listCache: [Record<string, never>, CachedModel[]];
  clearCache: [{ id?: string }, { cleared: number }];
}
export type Method = keyof EngineApi;

export type WorkerRequest =
  | { kind: 'call'; id: number; method: Method; args: unknown }
  | { kind: 'cancel'; id: number };

/** What the worker reports unasked: its backend failed (GPU device lost, out of memory); the page falls back to another. */
export type EngineEvent = { type: 'backend-lost'; backend: BackendName; reason: string };

export type WorkerResponse =
  | { kind: 'event'; event: EngineEvent }
  | { kind: 'progress'; id: number; progress: Progress }
  | { kind: 'result'; id: number; result: unknown }
  | { kind: 'error'; id: number; error: { code: string; message: string } };
