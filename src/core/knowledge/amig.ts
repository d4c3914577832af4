/**
 * The AMIG baseline of integrated gradients (Chen et al., AAAI 2024; methods.md §4.8), the
 * attribution behind the released DKN code's knowledge neurons.
 *
 * heng840/AMIG `garns.py` `scaled_input` replaces one input token at a time by EOS, records the
 * FFN activation at the attributed position for each, and walks from each of those baselines
 * to the clean activation; averaged over the tokens, the walks are one straight path from the
 * mean baseline b̄. So IG under AMIG is IG from b̄ instead of from zero. The code multiplies the
 * summed gradients by the clean activation a, not by a − b̄; `attribute` does the same, which is
 * why completeness (against P(a) − P(b̄)) is not expected to hold under this baseline.
 */
import * as tf from '@tensorflow/tfjs';
import { forward } from '../model/gpt2';
import type { Hooks } from '../model/hooks';
import type { Gpt2Weights } from '../model/weights';

/** Activation values one batch of substituted prompts may hold at a hook (64 MB of float32). */
const BATCH_ELEMENTS = 1 << 24;

/**
 * b̄ for every hook in `hookNames`: the activation at `position`, averaged over the
 * `position + 1` copies of the causal prefix that each have one token (the last one too, as
 * the code does) replaced by `eos`. Only the prefix matters to a causal model at `position`.
 * The copies run in batches, so a long prompt's T copies of T tokens never sit in memory at once.
 */
export async function amigBaselines(
  weights: Gpt2Weights,
  sequence: number[],
  position: number,
  site: { hookNames: string[]; lastLayer: number },
  eos: number,
  batchElements = BATCH_ELEMENTS,
): Promise<Map<string, Float32Array>> {
  const { hookNames, lastLayer } = site;
  const prefix = sequence.slice(0, position + 1);
  const rows = prefix.map((_, p) => prefix.map((token, q) => (q === p ? eos : token)));
  const batch = Math.max(1, Math.floor(batchElements / (prefix.length * weights.config.nInner)));
  const sums = new Map<string, tf.Tensor>();
  const hooks: Hooks = {};
  for (const name of hookNames) {
    hooks[name] = (act) => {
      const sum = act.slice([0, position, 0], [act.shape[0], 1, act.shape[2]!]).sum([0, 1]);
      const previous = sums.get(name);
      sums.set(name, tf.keep(previous ? tf.add(previous, sum) : sum));
      previous?.dispose();
    };
  }
  try {
    for (let start = 0; start < rows.length; start += batch) {
      const chunk = rows.slice(start, start + batch);
      tf.tidy(() => {
        forward(weights, tf.tensor2d(chunk, [chunk.length, prefix.length], 'int32'), { hooks, stopAtLayer: lastLayer + 1 });
      });
    }
    const out = new Map<string, Float32Array>();
    for (const name of hookNames) out.set(name, ((await sums.get(name)!.data()) as Float32Array).map((v) => v / rows.length));
    return out;
  } finally {
    sums.forEach((t) => t.dispose());
  }
}
