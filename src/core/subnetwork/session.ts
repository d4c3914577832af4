/**
 * The subnetwork state of a loaded model, for the engine (worker and Node): train a mask on
 * chosen fact sets, evaluate it, export or import it, and remove the subnetwork from the model
 * ("remaining model" θ ⊙ (1 − m)) so that predictions and interventions see the model without it.
 * One mask at a time; training replaces it.
 */
import type * as tf from '@tensorflow/tfjs';
import { FactlabError } from '../errors';
import type { Fact, FactSet } from '../facts/types';
import type { Gpt2Weights } from '../model/weights';
import type { Tokenizer } from '../tokenizers/types';
import { binaryFromState, binaryMasksForForward, binarySparsity, type BinaryMask } from './binary';
import { kgItemsFromFacts } from './data';
import { disposeMasks, disposeMaskState, type MaskState, type SparsityReport } from './mask';
import { exportMaskBits, exportMaskLogits, importMask, type MaskEncoding } from './mask-io';
import { evaluateSubnetwork, type SubnetEvaluation } from './metrics';
import { SubnetController, type SubnetProgress } from './progress';
import { assertDisjointFacts, assertNonEmptyFacts } from './sets';
import { resolveSettings, type SubnetOptions } from './settings';
import { trainSubnetwork, type SubnetTrainResult } from './trainer';

/** Target and control facts, with the relations whose templates make their prompts. */
export interface SubnetFacts {
  relations: FactSet['relations'];
  target: Fact[];
  control: Fact[];
}

export interface SubnetStatus {
  /** Whether a mask exists, and where it came from. */
  mask: null | { source: 'trained' | 'imported'; sparsity: SparsityReport; layers: number[]; encoding: MaskEncoding };
  /** Whether the subnetwork is currently removed from the model. */
  removed: boolean;
  training: 'idle' | 'running' | 'paused';
}

export class SubnetSession {
  private state: MaskState | null = null;
  private binary: BinaryMask | null = null;
  private source: 'trained' | 'imported' = 'trained';
  private removedMasks: Record<string, tf.Tensor> | null = null;
  private controller: SubnetController | null = null;

  constructor(
    private readonly weights: Gpt2Weights,
    private readonly tokenizer: Tokenizer,
    private readonly modelId: string,
  ) {}

  /** Masks for every forward pass while the subnetwork is removed; undefined otherwise. */
  forwardMasks(): Record<string, tf.Tensor> | undefined {
    return this.removedMasks ?? undefined;
  }

  status(): SubnetStatus {
    const training = this.controller ? (this.controller.state === 'paused' ? 'paused' : 'running') : 'idle';
    if (!this.binary) return { mask: null, removed: false, training };
    return {
      mask: { source: this.source, sparsity: binarySparsity(this.binary), layers: [...this.binary.layers], encoding: this.state ? 'logits' : 'bits' },
      removed: this.removedMasks !== null,
      training,
    };
  }

  private data(facts: SubnetFacts) {
    assertNonEmptyFacts(facts.target, 'TargetKG', 'the target selection');
    assertNonEmptyFacts(facts.control, 'ControlKG', 'the control selection');
    assertDisjointFacts(facts.target, facts.control);
    return {
      target: kgItemsFromFacts(this.tokenizer, facts, facts.target),
      controlKg: kgItemsFromFacts(this.tokenizer, facts, facts.control),
    };
  }

  async train(facts: SubnetFacts, options: SubnetOptions, callbacks: { signal?: AbortSignal; onProgress?: (p: SubnetProgress) => void }): Promise<SubnetTrainResult> {
    if (this.controller) throw new FactlabError('subnet-busy', 'A subnetwork is already training: stop it first.');
    const data = this.data(facts);
    this.controller = new SubnetController();
    try {
      // Training scores the full model against the remaining one: the old mask must not be applied.
      this.restore();
      // No LM corpus travels with the facts, but the block must still fit the model's context.
      const controlLmBlock = Math.min(resolveSettings(options).controlLmBlock, this.weights.config.nPositions);
      const { result, state } = await trainSubnetwork(this.weights, data, { ...options, controlLmBlock, modelId: this.modelId }, { controller: this.controller, signal: callbacks.signal, onProgress: callbacks.onProgress });
      this.replace(state, await binaryFromState(state), 'trained');
      return result;
    } finally {
      this.controller = null;
    }
  }

  control(action: 'pause' | 'resume' | 'stop'): SubnetStatus {
    if (!this.controller) throw new FactlabError('subnet-idle', `No subnetwork is training, so there is nothing to ${action}.`);
    this.controller[action]();
    return this.status();
  }

  async evaluate(facts: SubnetFacts, options: { signal?: AbortSignal; randomSeed?: number } = {}): Promise<SubnetEvaluation> {
    const mask = this.requireMask('evaluate');
    const data = this.data(facts);
    const removed = this.removedMasks !== null;
    this.restore(); // the evaluation applies the mask itself, to the original weights
    try {
      return await evaluateSubnetwork(this.weights, mask, data, { signal: options.signal, randomSeed: options.randomSeed, subnetwork: true });
    } finally {
      if (removed) this.remove();
    }
  }

  /** Removes the subnetwork from the model (θ ⊙ (1 − m)) for every later forward pass. */
  remove(): SubnetStatus {
    const mask = this.requireMask('remove');
    if (!this.removedMasks) this.removedMasks = binaryMasksForForward(mask, 'remaining');
    return this.status();
  }

  /** Puts the subnetwork back: the full model again. */
  restore(): SubnetStatus {
    if (this.removedMasks) disposeMasks(this.removedMasks);
    this.removedMasks = null;
    return this.status();
  }

  async exportMask(encoding: MaskEncoding): Promise<Uint8Array> {
    const mask = this.requireMask('export');
    const info = { modelId: this.modelId };
    if (encoding === 'logits') {
      if (!this.state) throw new FactlabError('no-mask-logits', 'This mask was imported as bits, so it has no logits to export: export it as bits.');
      return exportMaskLogits(this.state, info);
    }
    return exportMaskBits(mask, info);
  }

  importMask(bytes: Uint8Array, fileName?: string): SubnetStatus {
    if (this.controller) throw new FactlabError('subnet-busy', 'A subnetwork is training: stop it before importing a mask.');
    const imported = importMask(bytes, { dims: this.weights.config, fileName });
    this.replace(null, imported.binary, 'imported');
    return this.status();
  }

  dispose(): void {
    this.controller?.stop();
    this.restore();
    if (this.state) disposeMaskState(this.state);
    this.state = null;
    this.binary = null;
  }

  private replace(state: MaskState | null, binary: BinaryMask, source: 'trained' | 'imported'): void {
    this.restore();
    if (this.state && this.state !== state) disposeMaskState(this.state);
    this.state = state;
    this.binary = binary;
    this.source = source;
  }

  private requireMask(what: string): BinaryMask {
    if (!this.binary) throw new FactlabError('no-mask', `There is no subnetwork mask to ${what}: train one or import a mask file first.`);
    return this.binary;
  }
}
