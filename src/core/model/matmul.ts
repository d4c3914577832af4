/**
 * Fast matrix products for the wasm backend, measured on tfjs 4.22: `matMul` with
 * transposeA/transposeB runs ~10× slower than a plain product (2 vs 24 GFLOP/s), and the
 * stock BatchMatMul gradient uses exactly those transposed products — and, for a batched
 * x 2-D product, returns a weight gradient of the wrong shape (tfjs #8721).
 *
 * So: products are always plain, with explicit transposes. Inside gradients, a weight
 * that is multiplied transposed again and again (attribution runs hundreds of backward
 * passes through the same constant weights) can keep a cached transposed copy, found by
 * the tensor's data id because gradients see clones of the saved inputs. The cache is
 * used only in backward passes, which are never differentiated again.
 */
import * as tf from '@tensorflow/tfjs';

/** Owned transposed copies (disposed by `forgetTranspose`). */
const cache = new WeakMap<object, tf.Tensor>();
/** Tensors that already exist as each other's transpose (e.g. wte and the unembedding); not owned. */
const aliases = new WeakMap<object, tf.Tensor>();

function dataKey(t: tf.Tensor): object {
  return (t as unknown as { dataId: object }).dataId;
}

/** Swaps the last two axes. */
export function transposeLast2(x: tf.Tensor): tf.Tensor {
  const rank = x.rank;
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return tf.transpose(x, perm);
}

/** Keeps a transposed copy of a long-lived weight; dispose it with `forgetTranspose`. */
export function rememberTranspose(weight: tf.Tensor): tf.Tensor {
  const key = dataKey(weight);
  const existing = cache.get(key);
  if (existing && !existing.isDisposed) return existing;
  const transposed = tf.keep(tf.tidy(() => transposeLast2(weight)));
  cache.set(key, transposed);
  return transposed;
}

/** Records that `a` and `b` are each other's transpose, so gradients reuse them instead of transposing. */
export function registerTransposePair(a: tf.Tensor, b: tf.Tensor): void {
  aliases.set(dataKey(a), b);
  aliases.set(dataKey(b), a);
}

function knownTranspose(x: tf.Tensor): tf.Tensor | undefined {
  const found = cache.get(dataKey(x)) ?? aliases.get(dataKey(x));
  return found && !found.isDisposed ? found : undefined;
}

export function forgetTranspose(weight: tf.Tensor): void {
  const key = dataKey(weight);
  cache.get(key)?.dispose();
  cache.delete(key);
}

/** a · bᵀ over the last two axes, through a plain product. */
export function matMulBT(a: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.matMul(a, transposeLast2(b));
}

/** Sums a broadcast gradient back to the shape of the input it came from. */
function reduceTo(grad: tf.Tensor, shape: number[]): tf.Tensor {
  if (grad.rank === shape.length && grad.shape.every((d, i) => d === shape[i])) return grad;
  const extra = grad.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < grad.rank; i++) {
    if (i < extra || (shape[i - extra] === 1 && grad.shape[i] !== 1)) axes.push(i);
  }
  return tf.reshape(tf.sum(grad, axes), shape);
}

let installed = false;

/** Replaces tfjs's BatchMatMul gradient with plain products and correct broadcast reduction. */
export function installFastMatMulGradient(): void {
  if (installed) return;
  installed = true;
  const warn = console.warn;
  console.warn = () => {}; // tfjs warns that a gradient is overridden: that is the point.
  try {
    tf.registerGradient({
      kernelName: tf.BatchMatMul,
      inputsToSave: ['a', 'b'],
      gradFunc: (dy, saved, attrs) => {
        const [a, b] = saved;
        const { transposeA, transposeB } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
        const g = dy as tf.Tensor;
        const T = (x: tf.Tensor) => knownTranspose(x) ?? transposeLast2(x);
        // C = op(A)·op(B): dop(A) = dC·op(B)ᵀ, dop(B) = op(A)ᵀ·dC; then undo op on each.
        const opA = () => (transposeA ? T(a) : a);
        const opB = () => (transposeB ? T(b) : b);
        return {
          a: () => {
            const dOpA = tf.matMul(g, T(opB()));
            return reduceTo(transposeA ? T(dOpA) : dOpA, a.shape);
          },
          b: () => {
            const dOpB = tf.matMul(T(opA()), g);
            return reduceTo(transposeB ? T(dOpB) : dOpB, b.shape);
          },
        };
      },
    });
  } finally {
    console.warn = warn;
  }
}
installFastMatMulGradient();
