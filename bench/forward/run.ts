/**
 * bench/forward: latency of one GPT-2-small forward (12 layers, d=768, 12 heads, vocab
 * 50257; random seeded weights) on a 16-token prompt, tfjs wasm backend in Node against
 * a plain-PyTorch CPU peer on the same weights and tokens in the same run.
 *
 *   npm run bench:forward [-- --runs 20 --warmup 3 --tokens 16 --seed 1 --threads 2 --regen]
 *
 * Two variants, both ending with the logits on the host (dataSync / .numpy()):
 *   last  logits at the last position only: what a next-token prediction does
 *   full  logits at every position
 * Both engines' logits must agree (max rel err ≤ --tolerance) or the run fails.
 * Prints a table and the ratio line; writes bench/.out/forward.json.
 */
import { parseArgs } from 'node:util';
import { readFileSync, rmSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../../src/cli/node-backend';
import { forward } from '../../src/core/model/gpt2';
import { disposeWeights } from '../../src/core/model/weights';
import { makeRng } from '../../src/core/random';
import { gpt2SmallConfig } from '../../scripts/lib/random-checkpoint';
import { ensureCheckpoint, loadCheckpoint } from '../lib/checkpoint';
import { compareVectors, describeAgreement, type Agreement } from '../lib/compare';
import { isBusy, type CpuLoad } from '../lib/load';
import { logBackend, logIdleLoad, logMachine, warnIfBusy } from '../lib/preamble';
import { outPath } from '../lib/paths';
import { describePeerBlas, runPeer, type PeerBlasReport, type PeerRuntime } from '../lib/peer';
import { formatTable, writeSummary } from '../lib/report';
import { fmtMs, fmtPercent, measure, summarize, type Timing } from '../lib/timing';

interface ForwardPeerResult {
  runtime: PeerRuntime;
  blas: PeerBlasReport;
  tokens: number[];
  load_ms: number;
  warmup: number;
  runs: number;
  timings: Record<'last' | 'full', { samples_ms: number[]; load: CpuLoad | null }>;
  logits_last: number[];
  full_logits?: { path: string; shape: number[] };
}

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    tokens: { type: 'string', default: '16' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
    tolerance: { type: 'string', default: '1e-4' },
    regen: { type: 'boolean', default: false },
  },
});
const runs = Number(opts.runs);
const warmup = Number(opts.warmup);
const nTokens = Number(opts.tokens);
const seed = Number(opts.seed);
const torchThreads = Number(opts.threads);
const tolerance = Number(opts.tolerance);
for (const [name, v] of Object.entries({ runs, warmup, tokens: nTokens, seed, threads: torchThreads, tolerance })) {
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a non-negative number`);
}

const log = (line = '') => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  const config = gpt2SmallConfig();
  if (nTokens < 1 || nTokens > config.nPositions) throw new Error(`--tokens must be 1..${config.nPositions}`);
  log(`bench/forward: GPT-2-small shape (${config.nLayer} layers, d=${config.nEmbd}, ${config.nHead} heads, vocab ${config.vocabSize}), random weights seed ${seed}, ${nTokens} tokens`);
  const machine = logMachine(log);

  const checkpoint = ensureCheckpoint({ name: 'gpt2-small', config, seed }, { force: opts.regen, log });
  log(`checkpoint  ${checkpoint.dir} (${(checkpoint.bytes / 1e6).toFixed(1)} MB, ${checkpoint.generated ? `generated in ${(checkpoint.generateMs! / 1000).toFixed(1)} s` : 'cached'})`);

  const backend = await initNodeBackend('wasm');
  const loaded = loadCheckpoint(checkpoint);
  const features = backend.wasmFeatures;
  logBackend(log, backend, loaded.loadMs);

  const idle = await logIdleLoad(log);

  const rng = makeRng(seed + 1);
  const tokenIds = Array.from({ length: nTokens }, () => Math.floor(rng() * config.vocabSize));
  log(`tokens      [${tokenIds.join(', ')}]`);

  // The peer runs while this process sits idle, so the two never share the 2 cores.
  const fullLogitsPath = outPath('forward-torch-full.f32');
  const peer = await runPeer<ForwardPeerResult>(
    'gpt2_forward',
    ['--checkpoint', checkpoint.dir, '--tokens', tokenIds.join(','), '--warmup', String(warmup), '--runs', String(runs), '--threads', String(torchThreads), '--full-logits-out', fullLogitsPath],
    { timeoutMs: 10 * 60_000 },
  );
  const p = peer.result;
  log(`torch       ${p.runtime.torch} (python ${p.runtime.python}, ${p.runtime.executable}), ${p.runtime.threads} threads; weights loaded in ${(p.load_ms / 1000).toFixed(1)} s`);
  const blasView = describePeerBlas(p.blas, peer.unsetEnv);
  for (const line of blasView.lines) log(line);
  if (p.tokens.join(',') !== tokenIds.join(',')) throw new Error('the peer ran different tokens');

  // tfjs: exactly what a predict does — forward, then read the logits back to the host.
  const tokens = tf.tensor2d([tokenIds], [1, nTokens], 'int32');
  const before = tf.memory().numTensors;
  const runLast = (): Float32Array => {
    const out = forward(loaded.weights, tokens, { logitPositions: [-1] });
    const data = out.dataSync() as Float32Array;
    out.dispose();
    return data;
  };
  const runFull = (): Float32Array => {
    const out = forward(loaded.weights, tokens);
    const data = out.dataSync() as Float32Array;
    out.dispose();
    return data;
  };
  log(`timing      ${warmup} warm-up + ${runs} timed runs per engine and variant ...`);
  const tfLast = await measure(runLast, { warmup, runs });
  const tfFull = await measure(runFull, { warmup, runs });
  const leaked = tf.memory().numTensors - before;
  if (leaked !== 0) throw new Error(`forward leaked ${leaked} tensors over the timed runs`);

  // Agreement: last-position logits (JSON from the peer) and all positions (raw float32 file).
  const agreeLast = compareVectors(runLast(), p.logits_last, tolerance);
  let agreeFull: Agreement;
  if (p.full_logits) {
    const bytes = readFileSync(p.full_logits.path);
    const torchFull = new Float32Array(Uint8Array.from(bytes).buffer); // copy: the Buffer may not be 4-byte aligned
    agreeFull = compareVectors(runFull(), torchFull, tolerance);
    rmSync(p.full_logits.path, { force: true });
  } else {
    agreeFull = compareVectors([], [0], tolerance);
  }
  tokens.dispose();
  disposeWeights(loaded.weights);

  const torchLast = summarize(p.timings.last.samples_ms, p.warmup, p.timings.last.load);
  const torchFull = summarize(p.timings.full.samples_ms, p.warmup, p.timings.full.load);
  const timings = [tfLast, torchLast, tfFull, torchFull];
  const row = (variant: string, engine: string, threads: string, t: Timing) => [
    variant, engine, threads, fmtMs(t.medianMs), fmtMs(t.minMs), fmtMs(t.maxMs), fmtPercent(t.spread), String(t.runs), t.load ? t.load.otherCores.toFixed(2) : '',
  ];
  log();
  log(formatTable(
    ['variant', 'engine', 'threads', 'median ms', 'min ms', 'max ms', 'spread', 'runs', 'other load'],
    [
      row('last-position logits', 'tfjs-wasm', '1', tfLast),
      row('', 'torch-cpu', String(p.runtime.threads), torchLast),
      row(`all ${nTokens} positions' logits`, 'tfjs-wasm', '1', tfFull),
      row('', 'torch-cpu', String(p.runtime.threads), torchFull),
    ],
  ));
  log('(spread = interquartile range / median; other load = cores used by other processes during the timed runs)');
  const quiet = warnIfBusy(log, timings);
  log();
  log(describeAgreement('logits, last position', agreeLast));
  log(describeAgreement(`logits, all ${nTokens} positions`, agreeFull));
  log();
  const ratioLast = tfLast.medianMs / torchLast.medianMs;
  const ratioFull = tfFull.medianMs / torchFull.medianMs;
  const agree = agreeLast.ok && agreeFull.ok;
  // Tags per line: a busy phase taints only the variant that was timed during it.
  const caveat = (a: Agreement, ...phases: Timing[]) => [
    a.ok ? '' : '  [INVALID: logits disagree]',
    blasView.trustworthy ? '' : '  [MEANINGLESS: torch peer on a slow BLAS]',
    phases.some((t) => isBusy(t.load)) ? '  [NOISY: machine busy]' : '',
  ].join('');
  log(`forward ${nTokens} tokens: tfjs-wasm ${tfLast.medianMs.toFixed(1)} ms, torch-cpu ${torchLast.medianMs.toFixed(1)} ms, ratio ${ratioLast.toFixed(2)}x (tfjs/torch)${caveat(agreeLast, tfLast, torchLast)}`);
  log(`forward ${nTokens} tokens, all-position logits: tfjs-wasm ${tfFull.medianMs.toFixed(1)} ms, torch-cpu ${torchFull.medianMs.toFixed(1)} ms, ratio ${ratioFull.toFixed(2)}x (tfjs/torch)${caveat(agreeFull, tfFull, torchFull)}`);

  const summaryPath = writeSummary('forward', {
    benchmark: 'forward',
    date: new Date().toISOString(),
    ok: agree,
    quiet,
    machine,
    loadBeforeTiming: idle,
    model: { shape: 'gpt2-small', config, seed, checkpoint: checkpoint.dir, bytes: checkpoint.bytes },
    tokens: tokenIds,
    settings: { runs, warmup, torchThreads, tolerance },
    tfjs: { version: tf.version.tfjs, backend: backend.name, wasmFeatures: features, threads: 1, loadMs: loaded.loadMs },
    torch: { runtime: p.runtime, blas: p.blas, trustworthy: blasView.trustworthy, unsetEnv: peer.unsetEnv, loadMs: p.load_ms, command: peer.command },
    results: {
      last: { description: 'forward + dataSync, logits at the last position only', tfjs: tfLast, torch: torchLast, ratio: ratioLast, quiet: !isBusy(tfLast.load) && !isBusy(torchLast.load) },
      full: { description: 'forward + dataSync, logits at every position', tfjs: tfFull, torch: torchFull, ratio: ratioFull, quiet: !isBusy(tfFull.load) && !isBusy(torchFull.load) },
    },
    agreement: { last: agreeLast, full: agreeFull },
  });
  log(`summary     ${summaryPath}`);

  if (!agree) {
    const bar = 'X'.repeat(78);
    log(bar);
    log(`BENCH FAILED: tfjs and torch logits disagree (max rel err last ${agreeLast.maxRelError.toExponential(2)}, all ${agreeFull.maxRelError.toExponential(2)}; tolerance ${tolerance}).`);
    log('The timings above compare different computations and mean nothing.');
    log(bar);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench/forward failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
