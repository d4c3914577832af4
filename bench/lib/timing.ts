/**
 * Timing: warm-up runs (not recorded), then N timed runs, summarised by median and min
 * with the spread. The Python peers return raw samples and are summarised here too, so
 * both sides of a comparison use exactly the same statistics.
 */
import { startLoadProbe, type CpuLoad } from './load';

export interface Timing {
  runs: number;
  warmup: number;
  /** Every timed run, in milliseconds, in the order they ran. */
  samplesMs: number[];
  medianMs: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
  p25Ms: number;
  p75Ms: number;
  /** Interquartile range over the median: 0.05 means the middle half of the runs lies within 5% of the median. */
  spread: number;
  /** Machine load during the timed runs (not the warm-up), when it could be read. */
  load?: CpuLoad | null;
}

export interface MeasureOptions {
  warmup: number;
  runs: number;
}

/** Quantile with linear interpolation between order statistics (numpy's default). */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function summarize(samplesMs: number[], warmup = 0, load?: CpuLoad | null): Timing {
  if (samplesMs.length === 0) throw new Error('summarize: no samples');
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const median = quantile(sorted, 0.5);
  const p25 = quantile(sorted, 0.25);
  const p75 = quantile(sorted, 0.75);
  return {
    runs: samplesMs.length,
    warmup,
    samplesMs,
    medianMs: median,
    minMs: sorted[0],
    maxMs: sorted[sorted.length - 1],
    meanMs: samplesMs.reduce((a, b) => a + b, 0) / samplesMs.length,
    p25Ms: p25,
    p75Ms: p75,
    spread: median > 0 ? (p75 - p25) / median : 0,
    load,
  };
}

/** Runs `fn` `warmup` times untimed, then `runs` times timed (each run awaited before the next). */
export async function measure(fn: () => unknown, options: MeasureOptions): Promise<Timing> {
  if (!(options.runs >= 1)) throw new Error('measure: runs must be ≥ 1');
  for (let i = 0; i < options.warmup; i++) await fn();
  const samples: number[] = [];
  const probe = startLoadProbe();
  for (let i = 0; i < options.runs; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return summarize(samples, options.warmup, probe.stop());
}

export function fmtMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(1) : ms >= 10 ? ms.toFixed(2) : ms.toFixed(3);
}

export function fmtPercent(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

/** One-line summary: `median 123.4 ms, min 120.1 ms, spread 2.3% (20 runs)`. */
export function describeTiming(t: Timing): string {
  return `median ${fmtMs(t.medianMs)} ms, min ${fmtMs(t.minMs)} ms, max ${fmtMs(t.maxMs)} ms, spread ${fmtPercent(t.spread)} (IQR/median, ${t.runs} runs after ${t.warmup} warm-up)`;
}
