/**
 * Checking that two engines computed the same thing before comparing their speed:
 * a fast but wrong peer is meaningless.
 *
 * Relative error is the project's definition (tests/helpers/tf.ts): the largest absolute
 * difference over the largest magnitude of the reference, so near-zero logits do not blow
 * up an element-wise ratio.
 */

export interface Agreement {
  count: number;
  /** max |a − b| / max |b| */
  maxRelError: number;
  maxAbsError: number;
  /** max |b| */
  scale: number;
  argmaxA: number;
  argmaxB: number;
  /** Overlap of the two top-5 sets (5 = same five tokens). */
  top5Overlap: number;
  tolerance: number;
  ok: boolean;
}

function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

function topK(x: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: x.length }, (_, i) => i)
    .sort((i, j) => x[j] - x[i])
    .slice(0, k);
}

/** Compares `actual` with `reference`; NaN anywhere, or a length mismatch, is a disagreement. */
export function compareVectors(actual: ArrayLike<number>, reference: ArrayLike<number>, tolerance: number): Agreement {
  if (actual.length !== reference.length) {
    return { count: 0, maxRelError: Infinity, maxAbsError: Infinity, scale: NaN, argmaxA: -1, argmaxB: -1, top5Overlap: 0, tolerance, ok: false };
  }
  let scale = 0;
  let maxAbs = 0;
  let finite = true;
  for (let i = 0; i < reference.length; i++) {
    const a = actual[i];
    const b = reference[i];
    if (!Number.isFinite(a) || !Number.isFinite(b)) finite = false;
    scale = Math.max(scale, Math.abs(b));
    maxAbs = Math.max(maxAbs, Math.abs(a - b));
  }
  const maxRel = finite ? maxAbs / Math.max(scale, 1e-12) : Infinity;
  const topA = new Set(topK(actual, 5));
  const top5Overlap = topK(reference, 5).filter((i) => topA.has(i)).length;
  return {
    count: reference.length,
    maxRelError: maxRel,
    maxAbsError: finite ? maxAbs : Infinity,
    scale,
    argmaxA: argmax(actual),
    argmaxB: argmax(reference),
    top5Overlap,
    tolerance,
    ok: finite && maxRel <= tolerance,
  };
}

/** One line per comparison; `quantity` names the values in the scale (`max |logit| …`), `scaleDigits` its decimals (0: exponent form). */
export function describeAgreement(label: string, a: Agreement, quantity = 'logit', scaleDigits = 3): string {
  const verdict = a.ok ? 'OK' : 'MISMATCH';
  const scale = scaleDigits > 0 ? a.scale.toFixed(scaleDigits) : a.scale.toExponential(2);
  return `${label}: max rel err ${a.maxRelError.toExponential(2)} (tolerance ${a.tolerance.toExponential(0)}), max abs err ${a.maxAbsError.toExponential(2)} over ${a.count} values (max |${quantity}| ${scale}), argmax ${a.argmaxA === a.argmaxB ? 'same' : `DIFFERS (${a.argmaxA} vs ${a.argmaxB})`}, top-5 overlap ${a.top5Overlap}/5 → ${verdict}`;
}
