/**
 * The subnetwork view's state: which facts to remove (TargetKG) and keep (ControlKG), a
 * training run in the worker with its live curves, the evaluation, and whether the
 * subnetwork is removed from the model the rest of the lab predicts with.
 */
import { create } from 'zustand';
import type { Fact, FactSet } from '../core/facts/types';
import type { EvalRecord, StepRecord } from '../core/subnetwork/progress';
import type { SubnetEvaluation } from '../core/subnetwork/metrics';
import type { SubnetFacts, SubnetStatus } from '../core/subnetwork/session';
import type { SubnetTrainResult } from '../core/subnetwork/trainer';
import { isCancelled } from '../worker/client';
import { useFacts } from './facts-store';
import { downloadBlob } from './knowledge';
import { engine, toUiError, useLab, type UiError } from './store';

/** The released code's λ_reg schedule, the page's default. */
export const CODE_LAMBDA_REG = { init: 2, final: 3 } as const;

/** Control facts: evenly spaced over the rest of the library, so every relation is represented. */
export const CONTROL_FACTS = 200;

export interface SubnetState {
  targetRelation: string;
  /** Case-insensitive text the target facts' subject or object must contain (empty: the whole relation). */
  targetQuery: string;
  steps: number;
  seed: number;
  /** The sparsity weight's schedule: `init` for the first half of the steps, then linearly to `final` (the code: 2 → 3). */
  lambdaReg: { init: number; final: number };
  /** 'pausing': asked, until the trainer reaches its next unit boundary and reports 'paused'. */
  phase: 'idle' | 'training' | 'pausing' | 'paused' | 'stopping' | 'evaluating';
  curve: StepRecord[];
  evals: EvalRecord[];
  result?: SubnetTrainResult;
  evaluation?: SubnetEvaluation;
  status: SubnetStatus;
  error?: UiError;
  message?: string;

  setTarget(patch: Partial<Pick<SubnetState, 'targetRelation' | 'targetQuery' | 'steps' | 'seed' | 'lambdaReg'>>): void;
  train(): Promise<void>;
  control(action: 'pause' | 'resume' | 'stop'): Promise<void>;
  evaluate(): Promise<void>;
  setRemoved(removed: boolean): Promise<void>;
  exportMask(encoding: 'bits' | 'logits'): Promise<void>;
  importMask(file: File): Promise<void>;
}

/** The target and control selections from the library (throws nothing: empty sets are the worker's to refuse, with its message). */
export function selectSubnetFacts(library: FactSet | undefined, relation: string, query: string): SubnetFacts {
  const facts = library?.facts ?? [];
  const needle = query.trim().toLowerCase();
  const matches = (f: Fact) => !needle || f.subject.toLowerCase().includes(needle) || f.object.toLowerCase().includes(needle);
  const target = facts.filter((f) => f.relation === relation && matches(f));
  const targetIds = new Set(target.map((f) => f.id));
  const rest = facts.filter((f) => !targetIds.has(f.id));
  const stride = Math.max(1, Math.floor(rest.length / CONTROL_FACTS));
  const control = rest.filter((_, i) => i % stride === 0).slice(0, CONTROL_FACTS);
  return { relations: library?.relations ?? [], target, control };
}

const NO_MASK: SubnetStatus = { mask: null, removed: false, training: 'idle' };
let running: AbortController | undefined;

export const useSubnet = create<SubnetState>()((set, get) => {
  const facts = () => selectSubnetFacts(useFacts.getState().library, get().targetRelation, get().targetQuery);
  /** The rest of the lab predicts with whatever model the worker now has. */
  const modelChanged = (status: SubnetStatus) => {
    set({ status });
    useLab.getState().repredict();
  };
  const fail = (err: unknown) => set({ error: toUiError(err), phase: 'idle' });

  return {
    targetRelation: 'currency_of',
    targetQuery: 'euro',
    steps: 200,
    seed: 1318,
    lambdaReg: { ...CODE_LAMBDA_REG },
    phase: 'idle',
    curve: [],
    evals: [],
    status: NO_MASK,

    setTarget(patch) {
      set({ ...patch, error: undefined, message: undefined });
    },

    async train() {
      if (get().phase !== 'idle') return;
      running = new AbortController();
      set({ phase: 'training', curve: [], evals: [], result: undefined, evaluation: undefined, error: undefined, message: undefined });
      const curve: StepRecord[] = [];
      const evals: EvalRecord[] = [];
      try {
        const result = await engine().call('subnetTrain', { facts: facts(), options: { steps: get().steps, seed: get().seed, lambdaReg: get().lambdaReg } }, {
          signal: running.signal,
          onProgress: ({ subnet }) => {
            if (!subnet) return;
            if (subnet.kind === 'step') curve.push(subnet.record);
            if (subnet.kind === 'eval') evals.push(subnet.record);
            const phase = subnet.kind === 'paused' ? 'paused' : subnet.kind === 'resumed' ? 'training' : get().phase;
            set({ curve: [...curve], evals: [...evals], phase });
          },
        });
        set({ result, phase: 'idle', message: `${result.status === 'stopped' ? 'Stopped' : 'Trained'} after ${result.steps} steps in ${result.seconds.toFixed(0)} s.` });
        modelChanged(await engine().call('subnetStatus', {}));
      } catch (err) {
        if (isCancelled(err)) set({ phase: 'idle', message: 'Training cancelled; the previous mask is kept.' });
        else fail(err);
      } finally {
        running = undefined;
      }
    },

    async control(action) {
      try {
        if (action === 'stop') set({ phase: 'stopping' });
        if (action === 'pause') set({ phase: 'pausing' });
        const status = await engine().call('subnetControl', { action });
        // A pause shows once the trainer says it holds (its step count is then final), not when the worker accepts it.
        if (action === 'resume') set({ phase: status.training === 'paused' ? 'paused' : 'training' });
      } catch (err) {
        set({ error: toUiError(err) });
      }
    },

    async evaluate() {
      if (get().phase !== 'idle') return;
      set({ phase: 'evaluating', error: undefined });
      try {
        set({ evaluation: await engine().call('subnetEvaluate', { facts: facts() }), phase: 'idle' });
      } catch (err) {
        fail(err);
      }
    },

    async setRemoved(removed) {
      try {
        modelChanged(await engine().call('subnetRemove', { removed }));
      } catch (err) {
        set({ error: toUiError(err) });
      }
    },

    async exportMask(encoding) {
      try {
        const { bytes } = await engine().call('subnetExport', { encoding });
        downloadBlob(`factlab-subnetwork-${encoding}.safetensors`, new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
      } catch (err) {
        set({ error: toUiError(err) });
      }
    },

    async importMask(file) {
      set({ error: undefined, message: undefined });
      try {
        const bytes = new Uint8Array(await file.arrayBuffer());
        const status = await engine().call('subnetImport', { bytes, fileName: file.name });
        set({ result: undefined, evaluation: undefined, curve: [], evals: [], message: `Imported ${file.name}.` });
        modelChanged(status);
      } catch (err) {
        set({ error: toUiError(err) });
      }
    },
  };
});

// A new model (or a restarted worker) has no mask: what the view shows must not outlive it.
useLab.subscribe((state, previous) => {
  if (state.model !== previous.model) useSubnet.setState({ status: NO_MASK, result: undefined, evaluation: undefined, curve: [], evals: [], message: undefined });
});
