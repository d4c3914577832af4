/**
 * bench/attribute: knowledge-neuron attribution (integrated gradients, methods.md D1–D3,
 * §3.3) of one prompt over all 12 layers with m = 20, on the GPT-2-small-shaped random
 * checkpoint: factlab's `attribute()` on tfjs wasm in Node against a plain-PyTorch CPU peer
 * that runs the official knowledge-neurons algorithm on the same weights and tokens.
 *
 *   npm run bench:attribute [-- --runs 3 --warmup 1 --torch-runs 3 --tokens 14 --steps 20 --profile]
 *
 * Variants (tfjs): the fast path (the default: clean pass's KV cache, only the last position
 * of layers ≥ l recomputed, all α points in one batch) and `path: 'full'` (whole sequences
 * recomputed, like the official code). Both use rule 'left' and site 'post', the official
 * grid and neuron. The peer (bench/peers/gpt2_attribute.py) recomputes the whole prompt for
 * every layer, as the official code does.
 * The attributions must agree per layer (max rel err ≤ --tolerance; above --fail-tolerance
 * the run fails). Prints a table and the ratio lines; writes bench/.out/attribute.json.
 */
import { readFileSync, rmSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../../src/cli/node-backend';
import { attribute, type AttributionResult, type AttributionSettings } from '../../src/core/knowledge/attribution';
import { forward } from '../../src/core/model/gpt2';
import { cacheTransposesForGradients, disposeWeights } from '../../src/core/model/weights';
import { makeRng } from '../../src/core/random';
import { gpt2SmallConfig, smallConfig } from '../../scripts/lib/random-checkpoint';
import { ensureCheckpoint, loadCheckpoint } from '../lib/checkpoint';
import { compareVectors, describeAgreement, type Agreement } from '../lib/compare';
import { isBusy, type CpuLoad } from '../lib/load';
import { logBackend, logIdleLoad, logMachine, warnIfBusy } from '../lib/preamble';
import { outPath } from '../lib/paths';
import { describePeerBlas, runPeer, type PeerBlasReport, type PeerRuntime } from '../lib/peer';
import { profileKernels, type KernelProfile } from '../lib/profile';
import { formatTable, writeSummary } from '../lib/report';
import { fmtMs, fmtPercent, measure, summarize, type Timing } from '../lib/timing';

interface AttributePeerResult {
  runtime: PeerRuntime;
  blas: PeerBlasReport;
  tokens: number[];
  target: number;
  layers: number[];
  steps: number;
  load_ms: number;
  warmup: number;
  runs: number;
  timing: { samples_ms: number[]; load: CpuLoad | null };
  p_clean: number;
  layer_info: Array<{ layer: number; p_alpha0: number; sum: number; delta: number }>;
  scores: { path: string; shape: number[] };
}

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    'full-runs': { type: 'string', default: '1' },
    'torch-runs': { type: 'string', default: '3' },
    'torch-warmup': { type: 'string', default: '1' },
    tokens: { type: 'string', default: '14' },
    steps: { type: 'string', default: '20' },
    layers: { type: 'string', default: '' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string', default: '2' },
    tolerance: { type: 'string', default: '1e-4' },
    'fail-tolerance': { type: 'string', default: '1e-3' },
    'no-full': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    tiny: { type: 'boolean', default: false },
    regen: { type: 'boolean', default: false },
  },
});
const num = (name: keyof typeof opts): number => {
  const v = Number(opts[name]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a non-negative number`);
  return v;
};
const runs = num('runs');
const warmup = num('warmup');
const fullRuns = num('full-runs');
const torchRuns = num('torch-runs');
const torchWarmup = num('torch-warmup');
const nTokens = num('tokens');
const steps = num('steps');
const seed = num('seed');
const torchThreads = num('threads');
const tolerance = num('tolerance');
const failTolerance = num('fail-tolerance');
const withFull = !opts['no-full'];
if (runs < 1 || torchRuns < 1 || (withFull && fullRuns < 1)) throw new Error('--runs, --torch-runs and --full-runs must be ≥ 1');

const log = (line = '') => process.stdout.write(`${line}\n`);
const fmtS = (ms: number) => (ms / 1000).toFixed(ms >= 100_000 ? 1 : 2);

async function main(): Promise<number> {
  // --tiny: the 2-layer test shape, for checking the plumbing in seconds (not a benchmark).
  const config = opts.tiny ? smallConfig() : gpt2SmallConfig();
  const name = opts.tiny ? 'tiny' : 'gpt2-small';
  // --layers 3 or 3-7 (inclusive); default all.
  const bounds = opts.layers ? opts.layers.split('-').map((s) => (s.trim() === '' ? NaN : Number(s))) : [0, config.nLayer - 1];
  const layerRange: [number, number] = [bounds[0], bounds.length > 1 ? bounds[1] : bounds[0]];
  if (bounds.length > 2 || !layerRange.every(Number.isInteger) || !(layerRange[0] >= 0 && layerRange[1] < config.nLayer && layerRange[0] <= layerRange[1])) throw new Error(`--layers must be a range like 0-${config.nLayer - 1}`);
  const layerList = Array.from({ length: layerRange[1] - layerRange[0] + 1 }, (_, i) => layerRange[0] + i);
  const nLayers = layerList.length;
  if (nTokens < 1 || nTokens > config.nPositions) throw new Error(`--tokens must be 1..${config.nPositions}`);
  if (!Number.isInteger(steps) || steps < 1) throw new Error('--steps must be a positive integer');

  log(`bench/attribute: integrated gradients, ${nLayers} layers, m = ${steps} (rule left, site post), ${name} shape (${config.nLayer} layers, d=${config.nEmbd}, FFN ${config.nInner}, vocab ${config.vocabSize}), random weights seed ${seed}, ${nTokens} tokens`);
  const machine = logMachine(log);

  const checkpoint = ensureCheckpoint({ name, config, seed }, { force: opts.regen, log });
  log(`checkpoint  ${checkpoint.dir} (${(checkpoint.bytes / 1e6).toFixed(1)} MB, ${checkpoint.generated ? `generated in ${(checkpoint.generateMs! / 1000).toFixed(1)} s` : 'cached'})`);

  const backend = await initNodeBackend('wasm');
  const loaded = loadCheckpoint(checkpoint);
  const features = backend.wasmFeatures;
  logBackend(log, backend, loaded.loadMs);

  const idle = await logIdleLoad(log);

  // Prompt: seeded token ids, as bench/forward. Target: the model's own top next token, so the
  // attribution explains what the model predicts (with random weights every P is ≈ 1/V anyway).
  const rng = makeRng(seed + 1);
  const promptIds = Array.from({ length: nTokens }, () => Math.floor(rng() * config.vocabSize));
  const target = tf.tidy(() => {
    const logits = forward(loaded.weights, tf.tensor2d([promptIds], [1, nTokens], 'int32'), { logitPositions: [-1] });
    return logits.argMax(-1).dataSync()[0];
  });
  log(`tokens      [${promptIds.join(', ')}], target ${target} (the top prediction)`);

  // The peer runs while this process sits idle, so the two never share the 2 cores.
  const scoresPath = outPath('attribute-torch-scores.f32');
  log(`torch       running the peer: ${torchWarmup} warm-up + ${torchRuns} timed runs (each does all ${nLayers} layers) ...`);
  const peer = await runPeer<AttributePeerResult>(
    'gpt2_attribute',
    [
      '--checkpoint', checkpoint.dir, '--tokens', promptIds.join(','), '--target', String(target), '--layers', layerList.join(','),
      '--steps', String(steps), '--warmup', String(torchWarmup), '--runs', String(torchRuns), '--threads', String(torchThreads), '--scores-out', scoresPath,
    ],
    { timeoutMs: 60 * 60_000 },
  );
  const p = peer.result;
  log(`torch       ${p.runtime.torch} (python ${p.runtime.python}, ${p.runtime.executable}), ${p.runtime.threads} threads; weights loaded in ${(p.load_ms / 1000).toFixed(1)} s`);
  const blasView = describePeerBlas(p.blas, peer.unsetEnv);
  for (const line of blasView.lines) log(line);
  if (p.tokens.join(',') !== promptIds.join(',') || p.target !== target || p.layers.join(',') !== layerList.join(',') || p.steps !== steps) {
    throw new Error('the peer ran a different prompt, target, layer list or step count');
  }
  const torchScores = new Float32Array(Uint8Array.from(readFileSync(p.scores.path)).buffer); // copy: a Buffer may be unaligned
  rmSync(p.scores.path, { force: true });
  const width = config.nInner;
  if (torchScores.length !== nLayers * width) throw new Error(`the peer returned ${torchScores.length} scores, expected ${nLayers}×${width}`);
  const torchLayer = (i: number) => torchScores.subarray(i * width, (i + 1) * width);

  // tfjs: exactly what the app does for one prompt, ending with the scores on the host.
  const settings = (path: AttributionSettings['path']): Partial<AttributionSettings> => ({ steps, rule: 'left', site: 'post', layers: layerRange, path });
  cacheTransposesForGradients(loaded.weights); // attribute() does this on its first call; its cached copies are no leak
  const before = tf.memory().numTensors;
  let fastResult: AttributionResult | undefined;
  let fullResult: AttributionResult | undefined;
  log(`tfjs        fast path: ${warmup} warm-up + ${runs} timed runs ...`);
  const tfFast = await measure(async () => {
    fastResult = await attribute(loaded.weights, promptIds, [target], settings('fast'));
  }, { warmup, runs });
  log(`            ${tfFast.samplesMs.map((ms) => `${fmtS(ms)} s`).join(', ')}`);
  let tfFull: Timing | undefined;
  if (withFull) {
    log(`tfjs        full path: ${fullRuns} timed run${fullRuns === 1 ? '' : 's'}, no warm-up (the fast path's warm-up has compiled the kernels and cached the transposes) ...`);
    tfFull = await measure(async () => {
      fullResult = await attribute(loaded.weights, promptIds, [target], settings('full'));
    }, { warmup: 0, runs: fullRuns });
    log(`            ${tfFull.samplesMs.map((ms) => `${fmtS(ms)} s`).join(', ')}`);
  }

  // Where the fast path's time goes (one extra, profiled run).
  let profile: KernelProfile | undefined;
  if (opts.profile) {
    log('tfjs        profiling one fast-path run (tf.profile) ...');
    profile = await profileKernels(() => attribute(loaded.weights, promptIds, [target], settings('fast')));
  }

  const leaked = tf.memory().numTensors - before;
  if (leaked > 0) throw new Error(`attribute leaked ${leaked} tensors over the timed runs`);
  disposeWeights(loaded.weights);

  // Agreement per layer: tfjs (fast, full) against torch, and fast against full.
  const perLayer = (result: AttributionResult | undefined, reference: (i: number) => ArrayLike<number>): Agreement[] =>
    layerList.map((_, i) => compareVectors(result ? result.layers[i].scores : [], reference(i), tolerance));
  const worst = (list: Agreement[]) => list.reduce((w, a, i) => (a.maxRelError > list[w].maxRelError || Number.isNaN(a.maxRelError) ? i : w), 0);
  const agreeFast = perLayer(fastResult, torchLayer);
  const agreeFull = withFull ? perLayer(fullResult, torchLayer) : [];
  const agreeFastFull = withFull ? perLayer(fastResult, (i) => fullResult!.layers[i].scores) : [];

  const torchT = summarize(p.timing.samples_ms, p.warmup, p.timing.load);
  const timings = [tfFast, torchT, ...(tfFull ? [tfFull] : [])];
  const row = (variant: string, engine: string, threads: string, t: Timing) => [
    variant, engine, threads, fmtS(t.medianMs), fmtS(t.minMs), fmtS(t.maxMs), fmtPercent(t.spread), String(t.runs), t.load ? t.load.otherCores.toFixed(2) : '',
  ];
  log();
  log(formatTable(
    ['variant', 'engine', 'threads', 'median s', 'min s', 'max s', 'spread', 'runs', 'other load'],
    [
      row('fast path (KV cache, last position)', 'tfjs-wasm', '1', tfFast),
      ...(tfFull ? [row('full path (whole sequences)', 'tfjs-wasm', '1', tfFull)] : []),
      row('official algorithm (whole sequences)', 'torch-cpu', String(p.runtime.threads), torchT),
    ],
  ));
  log('(spread = interquartile range / median; other load = cores used by other processes during the timed runs)');
  const quiet = warnIfBusy(log, timings);

  log();
  const tfProb = fastResult!.tokenProbs[0];
  log(`clean P(target): tfjs ${tfProb.toExponential(4)}, torch ${p.p_clean.toExponential(4)}`);
  const describeLayers = (label: string, list: Agreement[]) => {
    const w = worst(list);
    const bad = list.filter((a) => !a.ok).length;
    log(describeAgreement(`${label}, worst layer ${layerList[w]}`, list[w], 'attribution', 0));
    log(`    per layer: ${list.map((a, i) => `L${layerList[i]} ${a.maxRelError.toExponential(1)}`).join(', ')}${bad ? `  (${bad} of ${list.length} layers above ${tolerance.toExponential(0)})` : ''}`);
  };
  describeLayers('attributions, tfjs fast path vs torch', agreeFast);
  if (withFull) {
    describeLayers('attributions, tfjs full path vs torch', agreeFull);
    describeLayers('attributions, tfjs fast path vs tfjs full path', agreeFastFull);
  }
  const completeness = fastResult!.layers.map((l) => l.relError);
  log(`completeness (tfjs fast path, left rule m = ${steps}): |Σ attr − ΔP| / |ΔP| per layer: ${completeness.map((e, i) => `L${layerList[i]} ${fmtPercent(e)}`).join(', ')}`);
  log();

  const maxErr = (list: Agreement[]) => Math.max(...list.map((a) => (Number.isNaN(a.maxRelError) ? Infinity : a.maxRelError)));
  const errFast = maxErr(agreeFast);
  const errFull = withFull ? maxErr(agreeFull) : 0;
  const failed = errFast > failTolerance || errFull > failTolerance;
  const withinTarget = errFast <= tolerance && errFull <= tolerance;
  const ratioFast = tfFast.medianMs / torchT.medianMs;
  const ratioFull = tfFull ? tfFull.medianMs / torchT.medianMs : NaN;
  const caveat = (err: number, ...phases: Timing[]) => [
    err > failTolerance ? '  [INVALID: attributions disagree]' : err > tolerance ? `  [agreement ${err.toExponential(1)} > ${tolerance.toExponential(0)}]` : '',
    blasView.trustworthy ? '' : '  [MEANINGLESS: torch peer on a slow BLAS]',
    phases.some((t) => isBusy(t.load)) ? '  [NOISY: machine busy]' : '',
  ].join('');
  const head = `attribute ${nLayers} layers m=${steps} (${nTokens} tokens)`;
  log(`${head}: tfjs-wasm ${fmtS(tfFast.medianMs)} s, torch-cpu ${fmtS(torchT.medianMs)} s, ratio ${ratioFast.toFixed(2)} (tfjs/torch); target ≤ 0.5${caveat(errFast, tfFast, torchT)}`);
  if (tfFull) {
    log(`${head}, tfjs full path: tfjs-wasm ${fmtS(tfFull.medianMs)} s, torch-cpu ${fmtS(torchT.medianMs)} s, ratio ${ratioFull.toFixed(2)} (tfjs/torch)${caveat(errFull, tfFull, torchT)}`);
  }

  const printProfile = (label: string, profile: KernelProfile) => {
    log();
    log(`profile (${label}): wall ${fmtS(profile.wallMs)} s, kernels ${fmtS(profile.kernelMs)} s in ${profile.kernels} kernel calls, outside kernels ${fmtS(profile.wallMs - profile.kernelMs)} s; peak ${(profile.peakBytes / 2 ** 20).toFixed(0)} MiB`);
    const groups = (list: KernelProfile['byName'], n: number) => list.slice(0, n).map((g) => [g.key, String(g.calls), fmtMs(g.ms), fmtPercent(g.share)]);
    log(formatTable(['kernel', 'calls', 'total ms', 'share'], groups(profile.byName, 15)));
    log();
    log(formatTable(['kernel and input shapes', 'calls', 'total ms', 'share'], groups(profile.byShape, 25)));
    if (profile.composites.length) {
      log(`(customGrad scopes, whose kernels are counted above: ${profile.composites.map((g) => `${g.key} ${g.calls}× ${fmtMs(g.ms)} ms`).join(', ')})`);
    }
  };
  if (profile) printProfile('one fast-path run under tf.profile', profile);

  const summaryPath = writeSummary('attribute', {
    benchmark: 'attribute',
    date: new Date().toISOString(),
    ok: !failed,
    withinTolerance: withinTarget,
    quiet,
    machine,
    loadBeforeTiming: idle,
    model: { shape: name, config, seed, checkpoint: checkpoint.dir, bytes: checkpoint.bytes },
    tokens: promptIds,
    target,
    settings: { layers: layerList, steps, rule: 'left', site: 'post', runs, warmup, fullRuns: withFull ? fullRuns : 0, torchRuns, torchWarmup, torchThreads, tolerance, failTolerance },
    tfjs: { version: tf.version.tfjs, backend: backend.name, wasmFeatures: features, threads: 1, loadMs: loaded.loadMs, pClean: tfProb },
    torch: { runtime: p.runtime, blas: p.blas, trustworthy: blasView.trustworthy, unsetEnv: peer.unsetEnv, loadMs: p.load_ms, command: peer.command, pClean: p.p_clean, layerInfo: p.layer_info },
    results: {
      fast: { description: "attribute(..., {path: 'fast'}) vs the official algorithm in torch", tfjs: tfFast, torch: torchT, ratio: ratioFast, target: 0.5, quiet: !isBusy(tfFast.load) && !isBusy(torchT.load) },
      ...(tfFull ? { full: { description: "attribute(..., {path: 'full'}) vs the official algorithm in torch", tfjs: tfFull, torch: torchT, ratio: ratioFull, quiet: !isBusy(tfFull.load) && !isBusy(torchT.load) } } : {}),
    },
    agreement: {
      fastVsTorch: { worstLayer: layerList[worst(agreeFast)], maxRelError: errFast, perLayer: agreeFast },
      ...(withFull ? {
        fullVsTorch: { worstLayer: layerList[worst(agreeFull)], maxRelError: errFull, perLayer: agreeFull },
        fastVsFull: { worstLayer: layerList[worst(agreeFastFull)], maxRelError: maxErr(agreeFastFull), perLayer: agreeFastFull },
      } : {}),
    },
    completeness: fastResult!.layers.map((l) => ({ layer: l.layer, sum: l.sum, delta: l.delta, relError: l.relError })),
    profile: profile ? { ...profile, byShape: profile.byShape.slice(0, 60) } : undefined,
  });
  log(`summary     ${summaryPath}`);

  if (failed) {
    const bar = 'X'.repeat(78);
    log(bar);
    log(`BENCH FAILED: tfjs and torch attributions disagree (worst max rel err fast ${errFast.toExponential(2)}${withFull ? `, full ${errFull.toExponential(2)}` : ''}; failure threshold ${failTolerance}).`);
    log('The timings above compare different computations and mean nothing.');
    log(bar);
    return 1;
  }
  if (!withinTarget) {
    log(`NOTE: the attributions agree to ${Math.max(errFast, errFull).toExponential(2)}, above the ${tolerance.toExponential(0)} target but below the ${failTolerance.toExponential(0)} failure threshold (float32 noise between engines).`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench/attribute failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
