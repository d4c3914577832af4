/**
 * The active weight edits of a loaded model, oldest first, and the forward-pass overrides
 * they make. Shared by the GPT-2 and BERT engines: only how slots become overrides differs
 * (GPT-2 value slots are rows of c_proj, BERT's are columns of output.dense).
 */
import type * as tf from '@tensorflow/tfjs';
import { FactlabError } from '../errors';
import { disposeOverrides, type Edit } from './edit';

export interface EditSummary {
  id: string;
  kind: Edit['kind'];
  description: string;
  slots: Array<{ param: string; row: number }>;
}

export class EditStack {
  private edits: Edit[] = [];
  private current: Record<string, tf.Tensor> = {};

  constructor(private readonly toOverrides: (edits: Edit[]) => Record<string, tf.Tensor> | Promise<Record<string, tf.Tensor>>) {}

  /** Replacement parameters for every forward pass while the edits are active. */
  get overrides(): Record<string, tf.Tensor> {
    return this.current;
  }

  list(): EditSummary[] {
    return this.edits.map(({ id, kind, description, slots }) => ({ id, kind, description, slots: slots.map((s) => ({ param: s.param, row: s.row })) }));
  }

  /** The newest edited value of a slot, if an active edit wrote it. */
  slotValue(param: string, row: number): Float32Array | undefined {
    let value: Float32Array | undefined;
    for (const edit of this.edits) for (const slot of edit.slots) if (slot.param === param && slot.row === row) value = slot.updated;
    return value;
  }

  /** Applies an edit, replacing an earlier one with the same id. */
  apply(edit: Edit): Promise<EditSummary[]> {
    return this.set([...this.edits.filter((e) => e.id !== edit.id), edit]);
  }

  /** Reverts one edit, or all of them: the original slots come back exactly (edits never touch the weights). */
  revert(id?: string): Promise<EditSummary[]> {
    if (id !== undefined && !this.edits.some((e) => e.id === id)) throw new FactlabError('bad-edit', `There is no active edit "${id}".`);
    return this.set(id === undefined ? [] : this.edits.filter((e) => e.id !== id));
  }

  dispose(): void {
    disposeOverrides(this.current);
    this.current = {};
    this.edits = [];
  }

  private async set(edits: Edit[]): Promise<EditSummary[]> {
    const next = await this.toOverrides(edits);
    disposeOverrides(this.current);
    this.current = next;
    this.edits = edits;
    return this.list();
  }
}
