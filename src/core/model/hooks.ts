/**
 * Hook points, TransformerLens style. A hook receives the activation at a named point
 * and may return a replacement (same shape, or a batch-broadcastable one); returning
 * nothing leaves the activation as it is. Hooks run inside the forward pass, so
 * whatever they return is part of the gradient graph.
 *
 * Names: hook_embed, hook_pos_embed,
 *   blocks.{l}.hook_resid_pre, blocks.{l}.ln1.hook_normalized,
 *   blocks.{l}.attn.hook_q | hook_k | hook_v   [B, H, T, dh]
 *   blocks.{l}.attn.hook_pattern               [B, H, T, Tk] (after softmax)
 *   blocks.{l}.attn.hook_z                     [B, T, d] (heads merged, before c_proj)
 *   blocks.{l}.hook_attn_out, blocks.{l}.hook_resid_mid,
 *   blocks.{l}.mlp.hook_pre | hook_post        [B, T, f] (before / after GELU)
 *   blocks.{l}.hook_mlp_out, blocks.{l}.hook_resid_post, ln_final.hook_normalized
 */
import * as tf from '@tensorflow/tfjs';

export type HookFn = (activation: tf.Tensor, name: string) => tf.Tensor | void;
export type Hooks = Record<string, HookFn | HookFn[]>;

export const hookName = {
  residPre: (l: number) => `blocks.${l}.hook_resid_pre`,
  residMid: (l: number) => `blocks.${l}.hook_resid_mid`,
  residPost: (l: number) => `blocks.${l}.hook_resid_post`,
  attnOut: (l: number) => `blocks.${l}.hook_attn_out`,
  pattern: (l: number) => `blocks.${l}.attn.hook_pattern`,
  mlpPre: (l: number) => `blocks.${l}.mlp.hook_pre`,
  mlpPost: (l: number) => `blocks.${l}.mlp.hook_post`,
  mlpOut: (l: number) => `blocks.${l}.hook_mlp_out`,
};

export function runHook(hooks: Hooks | undefined, name: string, x: tf.Tensor): tf.Tensor {
  const entry = hooks?.[name];
  if (!entry) return x;
  let out = x;
  for (const hook of Array.isArray(entry) ? entry : [entry]) {
    const replaced = hook(out, name);
    if (replaced) out = replaced;
  }
  return out;
}

/** Merges hook sets so that several interventions can act on the same point, in order. */
export function combineHooks(...sets: Array<Hooks | undefined>): Hooks {
  const out: Record<string, HookFn[]> = {};
  for (const set of sets) {
    if (!set) continue;
    for (const [name, entry] of Object.entries(set)) (out[name] ??= []).push(...(Array.isArray(entry) ? entry : [entry]));
  }
  return out;
}

/** Keeps a copy of the activation at each named point (cloned, so the caller owns and disposes it). */
export function captureHooks(names: string[], store: Map<string, tf.Tensor>): Hooks {
  const hooks: Hooks = {};
  for (const name of names) {
    hooks[name] = (x) => {
      store.get(name)?.dispose();
      store.set(name, tf.keep(x.clone()));
    };
  }
  return hooks;
}

export interface NeuronPatch {
  /** Neuron indices within the layer's activation (last axis). */
  neurons: number[];
  /**
   * Sequence positions to patch: one list for every batch row, or one list per row.
   * Negative positions count from the end.
   */
  positions: number[] | number[][];
  /** New value = activation·scale + shift. Suppress: scale 0; amplify: scale 2; set to v: scale 0, shift v. */
  scale?: number;
  shift?: number;
}

/**
 * A hook that rescales or sets chosen neurons at chosen positions. It multiplies by a
 * constant [B, T, f] factor and adds a constant shift, so gradients still flow through
 * the untouched entries.
 */
export function neuronPatchHook(patch: NeuronPatch): HookFn {
  return (x) => {
    const [batch, length, width] = x.shape as [number, number, number];
    const scale = new Float32Array(batch * length * width).fill(1);
    const shift = new Float32Array(batch * length * width);
    for (let b = 0; b < batch; b++) {
      const rowPositions = (Array.isArray(patch.positions[0]) ? (patch.positions as number[][])[b] : patch.positions) as number[];
      for (const position of rowPositions) {
        const t = position < 0 ? length + position : position;
        if (t < 0 || t >= length) throw new RangeError(`neuron patch position ${position} is outside a sequence of length ${length}`);
        for (const i of patch.neurons) {
          if (i < 0 || i >= width) throw new RangeError(`neuron index ${i} is outside a layer of width ${width}`);
          scale[(b * length + t) * width + i] = patch.scale ?? 1;
          shift[(b * length + t) * width + i] = patch.shift ?? 0;
        }
      }
    }
    return tf.tidy(() => tf.add(tf.mul(x, tf.tensor3d(scale, [batch, length, width])), tf.tensor3d(shift, [batch, length, width])));
  };
}
