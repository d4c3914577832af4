/**
 * Canvas drawing of the layer × neuron map. One device pixel column covers one or more
 * neurons; it shows the neuron with the largest |value| among them, so a narrow peak stays
 * visible at any zoom. Colours: PuOr (colour-blind safe, diverging) on a signed square-root
 * scale, purple for positive and orange for negative values.
 */
import { interpolatePuOr } from 'd3';
import type { NeuronGrid } from '../knowledge';

const LUT_SIZE = 257;

/** RGB triples along the scale, index 0 = most negative, LUT_SIZE − 1 = most positive. */
const LUT: Uint8ClampedArray = (() => {
  const out = new Uint8ClampedArray(LUT_SIZE * 3);
  for (let k = 0; k < LUT_SIZE; k++) {
    // Positive values are purple (the scale's start), negative ones orange.
    const c = interpolatePuOr(1 - k / (LUT_SIZE - 1));
    const m = /rgb\((\d+), (\d+), (\d+)\)/.exec(c);
    out[k * 3] = m ? Number(m[1]) : 0;
    out[k * 3 + 1] = m ? Number(m[2]) : 0;
    out[k * 3 + 2] = m ? Number(m[3]) : 0;
  }
  return out;
})();

/** The colour index of a value on the signed square-root scale of ±maxAbs. */
export function colourIndex(value: number, maxAbs: number): number {
  if (!(maxAbs > 0) || !Number.isFinite(value)) return (LUT_SIZE - 1) / 2;
  const s = Math.sign(value) * Math.sqrt(Math.min(1, Math.abs(value) / maxAbs));
  return Math.round(((s + 1) / 2) * (LUT_SIZE - 1));
}

export function colourCss(value: number, maxAbs: number): string {
  const k = colourIndex(value, maxAbs) * 3;
  return `rgb(${LUT[k]}, ${LUT[k + 1]}, ${LUT[k + 2]})`;
}

/** The index in [lo, hi) with the largest |value| (lo when the range is empty). */
export function bucketPick(row: Float32Array, lo: number, hi: number): number {
  let best = lo;
  let bestAbs = -1;
  for (let i = lo; i < hi; i++) {
    const a = Math.abs(row[i]);
    if (a > bestAbs) {
      bestAbs = a;
      best = i;
    }
  }
  return best;
}

/** The neuron range [lo, hi) a pixel column covers. */
export function columnRange(column: number, columns: number, domain: [number, number]): [number, number] {
  const span = domain[1] - domain[0];
  const lo = Math.floor(domain[0] + (column * span) / columns);
  const hi = Math.max(lo + 1, Math.floor(domain[0] + ((column + 1) * span) / columns));
  return [lo, Math.min(hi, domain[1])];
}

let scratch: HTMLCanvasElement | undefined;

/**
 * Draws rows (top row = highest layer) into `ctx`, `columns` device pixels wide and
 * `rowPx` device pixels per layer. `rows` may be a subset (one summary row for the overview).
 */
export function drawHeat(ctx: CanvasRenderingContext2D, rows: Float32Array[], maxAbs: number, domain: [number, number], columns: number, rowPx: number): void {
  const n = rows.length;
  if (n === 0 || columns <= 0) return;
  scratch ??= document.createElement('canvas');
  scratch.width = columns;
  scratch.height = n;
  const sctx = scratch.getContext('2d')!;
  const image = sctx.createImageData(columns, n);
  const data = image.data;
  for (let c = 0; c < columns; c++) {
    const [lo, hi] = columnRange(c, columns, domain);
    for (let k = 0; k < n; k++) {
      const row = rows[k];
      const v = row[bucketPick(row, lo, hi)];
      const li = colourIndex(v, maxAbs) * 3;
      const p = ((n - 1 - k) * columns + c) * 4;
      data[p] = LUT[li];
      data[p + 1] = LUT[li + 1];
      data[p + 2] = LUT[li + 2];
      data[p + 3] = 255;
    }
  }
  sctx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(scratch, 0, 0, columns, n, 0, 0, columns, n * rowPx);
}

/** Per-neuron maximum |value| over layers, signed by the winning value (the overview strip). */
export function summaryRow(grid: NeuronGrid): Float32Array {
  const out = new Float32Array(grid.width);
  for (const row of grid.rows) {
    for (let i = 0; i < grid.width; i++) if (Math.abs(row[i]) > Math.abs(out[i])) out[i] = row[i];
  }
  return out;
}

/** Stops of the legend gradient (CSS linear-gradient from negative to positive). */
export function legendGradient(): string {
  const stops: string[] = [];
  for (let k = 0; k <= 10; k++) {
    const i = Math.round((k / 10) * (LUT_SIZE - 1)) * 3;
    stops.push(`rgb(${LUT[i]}, ${LUT[i + 1]}, ${LUT[i + 2]}) ${k * 10}%`);
  }
  return `linear-gradient(to right, ${stops.join(', ')})`;
}
