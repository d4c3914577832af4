/**
 * How long cancel takes to return, for model loading, attribution, evaluation and mask
 * training on a GPT-2-small-shaped checkpoint (tfjs-wasm in Node, as in the worker).
 *
 * For each operation the peer, timed in the same run, is one uninterrupted unit of the
 * same work (the whole load; one layer × target token of attribution; one evaluation
 * batch; one training step). Cancel is requested 1.5 units into a run (for loading: at
 * 40% of the load) and timed from that moment to the rejection, so time the event loop
 * was blocked counts, as it would for the page's cancel message reaching the worker.
 * Prints latency, peer, their ratio and whether it meets the ≤ 1 s target.
 *
 *   npm run bench:cancel [-- --repeats 3 --only loading,attribution,evaluation,training]
 */
import { parseArgs } from 'node:util';
import { initNodeBackend } from '../../src/cli/node-backend';
import { Gpt2Engine } from '../../src/core/engine';
import { CancelledError } from '../../src/core/errors';
import { kgScores } from '../../src/core/subnetwork/metrics';
import { disposeMaskState } from '../../src/core/subnetwork/mask';
import { trainSubnetwork } from '../../src/core/subnetwork/trainer';
import { gpt2SmallConfig } from '../../scripts/lib/random-checkpoint';
import { ensureCheckpoint } from '../lib/checkpoint';
import { startLoadProbe } from '../lib/load';
import { formatTable } from '../lib/report';
import { fmtMs, summarize } from '../lib/timing';

const { values } = parseArgs({ options: { repeats: { type: 'string', default: '3' }, only: { type: 'string' } } });
const repeats = Number(values.repeats);
/** `--only attribution,evaluation` runs a subset (loading, attribution, evaluation, training). */
const wanted = (name: string) => !values.only || values.only.split(',').includes(name);
const TARGET_MS = 1000;

const log = (line: string) => console.error(line);
const checkpoint = ensureCheckpoint({ name: 'gpt2-small', config: gpt2SmallConfig(), seed: 1 }, { log });
await initNodeBackend('wasm');
const source = { kind: 'folder' as const, path: checkpoint.dir };

/**
 * Starts `work`, requests a cancel `afterMs` later and returns ms from that moment until the
 * engine is free again: the work rejected with CancelledError, or (when the request fell
 * into a stretch without a cancellation point) finished anyway. The page's own promise
 * rejects at once (the client does not wait for the worker); this is how long the worker
 * stays busy, i.e. how long the next operation would wait.
 */
async function cancelLatency(work: (signal: AbortSignal) => Promise<unknown>, afterMs: number): Promise<number> {
  const controller = new AbortController();
  const requested = performance.now() + afterMs;
  const timer = setTimeout(() => controller.abort(), afterMs);
  try {
    await work(controller.signal);
  } catch (err) {
    if (!(err instanceof CancelledError)) throw err;
    return performance.now() - requested;
  } finally {
    clearTimeout(timer);
  }
  const finished = performance.now();
  if (finished < requested) throw new Error(`the work finished before the cancel (${afterMs.toFixed(0)} ms); use a longer run`);
  return finished - requested;
}

interface Row { operation: string; unit: string; peerMs: number[]; cancelMs: number[] }
const rows: Row[] = [];
const probe = startLoadProbe();

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

// 1. Model loading: peer = one whole load.
if (wanted('loading')) {
  const row: Row = { operation: 'model loading', unit: 'whole load', peerMs: [], cancelMs: [] };
  for (let i = 0; i < repeats; i++) {
    let engine: Gpt2Engine | undefined;
    row.peerMs.push(await timed(async () => { engine = await Gpt2Engine.load(source); }));
    engine!.dispose();
    row.cancelMs.push(await cancelLatency((signal) => Gpt2Engine.load(source, { signal }).then((e) => e.dispose()), 0.4 * row.peerMs[i]));
  }
  rows.push(row);
  log(`loading: ${row.peerMs.map(fmtMs).join(', ')} ms; cancel ${row.cancelMs.map(fmtMs).join(', ')} ms`);
}

const engine = await Gpt2Engine.load(source);
const { promptIds, targetIds } = engine.encodeFact('The capital of France is', ' Paris');

// 2. Attribution (m = 20, all layers): peer = one layer × target token.
if (wanted('attribution')) {
  const row: Row = { operation: 'attribution (m = 20)', unit: 'one layer', peerMs: [], cancelMs: [] };
  let stamps: number[] = [];
  await engine.attribute(promptIds, targetIds, { steps: 20, layers: [0, 1] }); // warm-up
  for (let i = 0; i < repeats; i++) {
    stamps = [];
    await engine.attribute(promptIds, targetIds, { steps: 20, layers: [0, 2] }, { onProgress: () => stamps.push(performance.now()) });
    row.peerMs.push(stamps[2] - stamps[1]);
    row.cancelMs.push(await cancelLatency((signal) => engine.attribute(promptIds, targetIds, { steps: 20 }, { signal }), 1.5 * row.peerMs[i]));
  }
  rows.push(row);
  log(`attribution: unit ${row.peerMs.map(fmtMs).join(', ')} ms; cancel ${row.cancelMs.map(fmtMs).join(', ')} ms`);
}

// 3. Evaluation (KG scores): peer = one batch of 16 items.
if (wanted('evaluation')) {
  const prompts = ['The capital of France is', 'Paris is the capital of', 'The Eiffel Tower is in', 'The official language of Spain is'];
  const items = Array.from({ length: 64 }, (_, i) => engine.encodeFact(prompts[i % prompts.length], ' Paris'));
  const row: Row = { operation: 'evaluation (64 KG items)', unit: 'one batch of 16', peerMs: [], cancelMs: [] };
  await kgScores(engine.weights, items.slice(0, 16), { batchSize: 16 });
  for (let i = 0; i < repeats; i++) {
    row.peerMs.push(await timed(() => kgScores(engine.weights, items.slice(0, 16), { batchSize: 16 })));
    row.cancelMs.push(await cancelLatency((signal) => kgScores(engine.weights, items, { batchSize: 16, signal }), 1.5 * row.peerMs[i]));
  }
  rows.push(row);
  log(`evaluation: unit ${row.peerMs.map(fmtMs).join(', ')} ms; cancel ${row.cancelMs.map(fmtMs).join(', ')} ms`);
}

// 4. Mask training (browser profile, top 2 layers): peer = one step.
if (wanted('training')) {
  const target = [engine.encodeFact('The capital of France is', ' Paris')];
  const controlKg = ['The official language of Spain is', 'The Eiffel Tower is in'].map((p) => engine.encodeFact(p, ' Spanish'));
  const options = { profile: 'browser' as const, steps: 50, controlKgBatch: 2, evalEvery: 1000, seed: 1, lambdas: { controlLm: 0 } };
  const row: Row = { operation: 'mask training', unit: 'one step', peerMs: [], cancelMs: [] };
  for (let i = 0; i < repeats; i++) {
    const steps: number[] = [];
    const { state } = await trainSubnetwork(engine.weights, { target, controlKg }, { ...options, steps: 3 }, { onProgress: (p) => { if (p.kind === 'step') steps.push(performance.now()); } });
    disposeMaskState(state);
    row.peerMs.push(steps[2] - steps[1]);
    row.cancelMs.push(await cancelLatency((signal) => trainSubnetwork(engine.weights, { target, controlKg }, options, { signal }), 1.5 * row.peerMs[i]));
  }
  rows.push(row);
  log(`training: unit ${row.peerMs.map(fmtMs).join(', ')} ms; cancel ${row.cancelMs.map(fmtMs).join(', ')} ms`);
}
engine.dispose();
const load = probe.stop();

console.log(`cancel latency on ${checkpoint.dir} (GPT-2-small shape, tfjs-wasm, 1 thread), median of ${repeats}; target ≤ ${TARGET_MS} ms\n`);
console.log(formatTable(
  ['operation', 'peer unit', 'peer ms', 'cancel ms', 'cancel / peer', 'worst cancel ms', '≤ 1 s'],
  rows.map((r) => {
    const peer = summarize(r.peerMs).medianMs;
    const cancel = summarize(r.cancelMs);
    return [r.operation, r.unit, fmtMs(peer), fmtMs(cancel.medianMs), `${(cancel.medianMs / peer).toFixed(2)}x`, fmtMs(cancel.maxMs), cancel.maxMs <= TARGET_MS ? 'yes' : 'NO'];
  }),
));
if (load) console.log(`\nother processes used ${load.otherCores.toFixed(2)} cores on average during the run: ratios are noisy on a busy machine.`);
