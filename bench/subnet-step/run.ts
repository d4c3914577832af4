/**
 * bench/subnet-step: one knowledge-critical-subnetwork training step on the default model
 * (tfjs wasm, `SubnetTrainer.step`) against a PyTorch CPU peer of the same step on the same
 * weights, masked layers and batch, in the same run.
 *
 *   npm run bench:subnet-step [-- --runs 10 --warmup 2 --threads 2 --control 64 --lm-blocks 4]
 *
 * Batch: TargetKG = the 25 currency_of facts with object euro (first prompt each), ControlKG =
 * the first --control other facts of the library, ControlLM = the first --lm-blocks 64-token
 * blocks of data/corpus/train.txt; masked layers = the default upper half; KL over the whole
 * vocabulary. Agreement: the first step from the same initial logits with the same noise (one
 * sample for the three masked passes), warm-up off so Adam moves every logit by ≈ lr: the four
 * loss terms and the logits after the step must agree. Timings: the default per-pass noise on
 * both sides (the peer draws it with the code's two-uniform formula). Also timed: the logistic
 * noise of one GPT-2-small layer (7,077,888 logits), factlab's counter-based sampler vs torch.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL_DIR, loadGpt2Engine } from '../../src/cli/common';
import { loadFactSetFile } from '../../src/cli/facts-file';
import { initNodeBackend } from '../../src/cli/node-backend';
import { kgBatch, kgItemsFromFacts, klRowIndices, lmBlocks, type KgItem } from '../../src/core/subnetwork/data';
import { createMaskState, disposeMaskState, noiseKey, sampleNoise } from '../../src/core/subnetwork/mask';
import { lambdaRegAt, learningRateAt, resolveSettings, type SubnetOptions } from '../../src/core/subnetwork/settings';
import { SubnetTrainer, type SubnetData } from '../../src/core/subnetwork/trainer';
import { outPath } from '../lib/paths';
import { describePeerBlas, runPeer, type PeerBlasReport, type PeerRuntime } from '../lib/peer';
import { logBackend, logIdleLoad, logMachine, warnIfBusy } from '../lib/preamble';
import { formatTable, writeSummary } from '../lib/report';
import { fmtMs, fmtPercent, measure, summarize, type Timing } from '../lib/timing';
import type { CpuLoad } from '../lib/load';

interface StepPeerResult {
  runtime: PeerRuntime;
  blas: PeerBlasReport;
  losses: Record<'suppress' | 'controlKg' | 'controlLm' | 'density', number>;
  warmup: number;
  runs: number;
  timing: { samples_ms: number[]; load: CpuLoad | null };
  noise_timing: { samples_ms: number[]; load: CpuLoad | null };
}

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    threads: { type: 'string', default: '2' },
    control: { type: 'string', default: '64' },
    'lm-blocks': { type: 'string', default: '4' },
    seed: { type: 'string', default: '1318' },
    tolerance: { type: 'string', default: '1e-4' },
  },
});
const runs = Number(opts.runs);
const warmup = Number(opts.warmup);
const seed = Number(opts.seed);
const tolerance = Number(opts.tolerance);
const log = (line = '') => process.stdout.write(`${line}\n`);

const relativeError = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);

async function main(): Promise<number> {
  log('bench/subnet-step: one mask-training step (3 KL terms + sparsity, Adam) on the default model');
  const machine = logMachine(log);
  const backend = await initNodeBackend('wasm');
  const started = performance.now();
  const engine = await loadGpt2Engine('default', 'wasm', 'subnetwork');
  logBackend(log, backend, performance.now() - started);
  const { weights, tokenizer } = engine;
  const library = loadFactSetFile('default');
  const isTarget = (f: { relation: string; object: string }) => f.relation === 'currency_of' && f.object === 'euro';
  const target = kgItemsFromFacts(tokenizer, library, library.facts.filter(isTarget));
  const control = kgItemsFromFacts(tokenizer, library, library.facts.filter((f) => !isTarget(f)).slice(0, Number(opts.control)));
  const block = weights.config.nPositions;
  const lm = lmBlocks(tokenizer.encode(readFileSync(join('data/corpus', 'train.txt'), 'utf8')), block, Number(opts['lm-blocks']));
  const data: SubnetData = { target, controlKg: control, controlKgEval: [], controlLmTokens: lm.flat() };
  // Whole-set batches, so every step sees exactly the batch the peer gets (order aside).
  const settings: SubnetOptions = { steps: 1000, seed, controlKgBatch: control.length, controlLmBatch: lm.length, controlLmBlock: block, vocabChunk: 0 };
  log(`batch       TargetKG ${target.length} sentences, ControlKG ${control.length}, ControlLM ${lm.length} × ${block} tokens; vocab ${weights.config.vocabSize}`);

  // Agreement step: per-step noise (one sample for all three passes), no warm-up.
  const agreementOptions = { ...settings, noise: 'per-step' as const, warmupFraction: 0 };
  const s = resolveSettings(agreementOptions);
  const check = new SubnetTrainer(weights, data, agreementOptions);
  log(`masks       layers [${check.state.layers.join(', ')}], ${check.state.entries.reduce((a, e) => a + e.size, 0).toLocaleString('en')} logits`);
  const noise = sampleNoise(check.state, noiseKey(seed, 0));
  const noiseValues = await Promise.all(check.state.entries.map((e) => noise.get(e.name)!.data()));
  for (const t of noise.values()) t.dispose();
  const ours = await check.step();
  const oursLogits = await Promise.all(check.state.entries.map((e) => check.state.logits.get(e.name)!.data()));
  check.dispose(false);

  const rows = (items: KgItem[]) => {
    const { batch, rows: pairs } = kgBatch(items, weights.config.eosTokenId, (item) => klRowIndices(item, s.klPosition));
    return { tokens: batch.tokens, rows: pairs };
  };
  mkdirSync(outPath(), { recursive: true });
  const batchFile = outPath('subnet-step-batch.json');
  const noiseFile = outPath('subnet-step-noise.f32');
  const logitsFile = outPath('subnet-step-torch-logits.f32');
  writeFileSync(batchFile, JSON.stringify({
    layers: check.state.layers, init_p: s.initP, lr: learningRateAt(0, s), lambda_reg: lambdaRegAt(0, s), lambdas: s.lambdas,
    suppress: rows(target), controlKg: rows(control), controlLm: { tokens: lm, rows: null },
  }));
  const flatNoise = new Float32Array(noiseValues.reduce((a, v) => a + v.length, 0));
  noiseValues.reduce((offset, v) => (flatNoise.set(v, offset), offset + v.length), 0);
  writeFileSync(noiseFile, flatNoise);

  // Timing (tfjs): the default per-pass noise, as training runs.
  const idle = await logIdleLoad(log);
  const timed = new SubnetTrainer(weights, data, settings);
  log(`timing      ${warmup} warm-up + ${runs} timed steps per engine ...`);
  const tfjs = await measure(() => timed.step(), { warmup, runs });
  timed.dispose(false);
  // Noise of one GPT-2-small layer (7,077,888 logits): wasm ops run synchronously, so disposing ends the work.
  const gpt2Layer = createMaskState({ nLayer: 1, nEmbd: 768, nInner: 3072 }, { layers: [0] });
  let noiseStep = 0;
  const tfjsNoise = await measure(() => sampleNoise(gpt2Layer, noiseKey(seed, noiseStep++)).forEach((t) => t.dispose()), { warmup, runs });
  disposeMaskState(gpt2Layer);

  const peer = await runPeer<StepPeerResult>('gpt2_subnet_step', ['--checkpoint', DEFAULT_MODEL_DIR, '--batch', batchFile, '--noise', noiseFile, '--logits-out', logitsFile, '--warmup', String(warmup), '--runs', String(runs), '--threads', opts.threads!], { timeoutMs: 20 * 60_000 });
  const p = peer.result;
  log(`torch       ${p.runtime.torch} (python ${p.runtime.python}), ${p.runtime.threads} threads`);
  const blasView = describePeerBlas(p.blas, peer.unsetEnv);
  for (const line of blasView.lines) log(line);
  const torch = summarize(p.timing.samples_ms, p.warmup, p.timing.load);
  const torchNoise = summarize(p.noise_timing.samples_ms, p.warmup, p.noise_timing.load);

  const theirs = new Float32Array(Uint8Array.from(readFileSync(logitsFile)).buffer);
  const mine = new Float32Array(theirs.length);
  oursLogits.reduce((offset, v) => (mine.set(v as Float32Array, offset), offset + v.length), 0);
  let agreeing = 0;
  for (let i = 0; i < mine.length; i++) if (Math.abs(mine[i] - theirs[i]) <= 1e-3) agreeing++;
  const logitAgreement = agreeing / mine.length;
  const lossErrors = (['suppress', 'controlKg', 'controlLm', 'density'] as const).map((k) => ({ term: k, tfjs: ours.losses[k]!, torch: p.losses[k], relError: relativeError(ours.losses[k]!, p.losses[k]) }));
  rmSync(noiseFile, { force: true });
  rmSync(logitsFile, { force: true });
  engine.dispose();

  log();
  const row = (what: string, engine: string, threads: string, t: Timing) => [what, engine, threads, fmtMs(t.medianMs), fmtMs(t.minMs), fmtMs(t.maxMs), fmtPercent(t.spread), String(t.runs), t.load ? t.load.otherCores.toFixed(2) : ''];
  log(formatTable(['variant', 'engine', 'threads', 'median ms', 'min ms', 'max ms', 'spread', 'runs', 'other load'], [
    row('training step', 'tfjs-wasm', '1', tfjs),
    row('', 'torch-cpu', String(p.runtime.threads), torch),
    row('noise, 1 GPT-2-small layer', 'tfjs-wasm', '1', tfjsNoise),
    row('', 'torch-cpu', String(p.runtime.threads), torchNoise),
  ]));
  const quiet = warnIfBusy(log, [tfjs, torch, tfjsNoise, torchNoise]);
  for (const e of lossErrors) log(`agreement   ${e.term}: tfjs ${e.tfjs.toPrecision(7)}, torch ${e.torch.toPrecision(7)}, rel err ${e.relError.toExponential(2)}`);
  log(`agreement   logits after the first step: ${(100 * logitAgreement).toFixed(3)}% within 1e-3 (Adam moves each by ≈ lr = ${learningRateAt(0, s)})`);
  const ok = lossErrors.every((e) => e.relError <= tolerance) && logitAgreement >= 0.999;
  const ratio = tfjs.medianMs / torch.medianMs;
  log();
  log(`noise of one GPT-2-small layer: tfjs-wasm ${tfjsNoise.medianMs.toFixed(1)} ms, torch-cpu ${torchNoise.medianMs.toFixed(1)} ms, ratio ${(tfjsNoise.medianMs / torchNoise.medianMs).toFixed(2)}x (tfjs/torch)${quiet ? '' : '  [NOISY: machine busy]'}`);
  log(`subnet step: tfjs-wasm ${tfjs.medianMs.toFixed(1)} ms, torch-cpu ${torch.medianMs.toFixed(1)} ms, ratio ${ratio.toFixed(2)}x (tfjs/torch)${ok ? '' : '  [INVALID: the steps disagree]'}${blasView.trustworthy ? '' : '  [MEANINGLESS: slow BLAS]'}${quiet ? '' : '  [NOISY: machine busy]'}`);
  const summaryPath = writeSummary('subnet-step', {
    benchmark: 'subnet-step', date: new Date().toISOString(), ok, quiet, machine, loadBeforeTiming: idle,
    batch: { target: target.length, controlKg: control.length, controlLmBlocks: lm.length, block }, settings: resolveSettings(settings),
    tfjs: { backend: backend.name, timing: tfjs }, torch: { runtime: p.runtime, blas: p.blas, trustworthy: blasView.trustworthy, timing: torch, command: peer.command },
    noise: { tfjs: tfjsNoise, torch: torchNoise, ratio: tfjsNoise.medianMs / torchNoise.medianMs },
    ratio, agreement: { losses: lossErrors, logitsWithin1e3: logitAgreement },
  });
  log(`summary     ${summaryPath}`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench/subnet-step failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
