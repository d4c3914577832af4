/**
 * bench/kernels: the fused gelu_new WebGPU kernels (src/core/model/kernels/gelu.ts) against
 * the tf-op chains they replace, on tfjs-backend-webgpu in Node (Dawn on SwiftShader).
 *
 *   npm run bench:kernels [-- --runs 20 --warmup 3 --attr-runs 6 --steps 20 --seed 1 --layers 2 --d 192 --f 768]
 *
 * Variants of gelu_new, each timed forward only and forward+backward (vjp with a random dy),
 * ending with the result read back to the host:
 *   fused      FactlabGeluNew + FactlabGeluNewGrad: one WGSL dispatch each way (what WebGPU runs now)
 *   tf ops     the same formula in tf ops with the same hand-written gradient (what wasm runs)
 *   autodiff   the tf-op chain gpt2.ts used before, differentiated by tfjs: the "unfused" baseline
 * on [22, 1, 3072] (an attribution batch of 20 steps + 2 rows at GPT-2-small width), then a
 * whole integrated-gradients attribution of a small random GPT-2 with each variant in the
 * forward. Every variant must produce the same numbers (1e-5 / 1e-3 relative) or the run fails.
 * The ratio is fused / autodiff (< 1: the fused kernel is faster).
 *
 * SwiftShader is a CPU emulation of a GPU: dispatch overhead and arithmetic costs differ from
 * real GPUs, so the speedups here are indicative only. Writes bench/.out/kernels.json.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../../src/cli/node-backend';
import { attribute, type AttributionResult } from '../../src/core/knowledge/attribution';
import { GELU_NEW_GRAD_KERNEL, GELU_NEW_KERNEL, geluNewComposite, geluNewFused, setGeluNewOverride } from '../../src/core/model/kernels/gelu';
import { parseSafetensors } from '../../src/core/model/safetensors';
import { disposeWeights, gpt2WeightsFromTensors, type Gpt2Weights } from '../../src/core/model/weights';
import { makeRng, normal } from '../../src/core/random';
import { makeRandomCheckpoint, smallConfig } from '../../scripts/lib/random-checkpoint';
import { useWebGpu } from '../../src/cli/node-webgpu';
import { compareVectors, type Agreement } from '../lib/compare';
import { isBusy, startLoadProbe, type CpuLoad } from '../lib/load';
import { logBackend, logIdleLoad, logMachine, warnIfBusy } from '../lib/preamble';
import { formatTable, packageVersion, writeSummary } from '../lib/report';
import { fmtMs, fmtPercent, measure, summarize, type Timing } from '../lib/timing';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    'attr-runs': { type: 'string', default: '6' },
    steps: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    shape: { type: 'string', default: '22,1,3072' },
    layers: { type: 'string', default: '2' },
    d: { type: 'string', default: '192' },
    f: { type: 'string', default: '768' },
  },
});
const runs = Number(opts.runs);
const warmup = Number(opts.warmup);
const attrRuns = Number(opts['attr-runs']);
const steps = Number(opts.steps);
const seed = Number(opts.seed);
const shape = opts.shape.split(',').map(Number);
const model = { nLayer: Number(opts.layers), nEmbd: Number(opts.d), nInner: Number(opts.f) };
for (const [name, v] of Object.entries({ runs, warmup, 'attr-runs': attrRuns, steps, seed, layers: model.nLayer, d: model.nEmbd, f: model.nInner })) {
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer`);
}
if (shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0)) throw new Error('--shape must be positive integers, e.g. 22,1,3072');

const log = (line = '') => process.stdout.write(`${line}\n`);
const SOFTWARE_NOTE = 'SwiftShader is a CPU emulation of a GPU (Vulkan on the CPU): dispatch overhead and arithmetic costs are not a real GPU\'s, so these speedups are indicative only.';

/** The gelu_new chain gpt2.ts used before the fused op, left to tfjs autodiff. */
function autodiffChain(x: tf.Tensor): tf.Tensor {
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(tf.mul(x, x), x))));
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(inner)));
}

const VARIANTS = [
  { key: 'fused', label: 'fused WGSL kernels', fn: geluNewFused },
  { key: 'ops', label: 'tf ops + hand gradient', fn: geluNewComposite },
  { key: 'autodiff', label: 'tf ops + autodiff (before)', fn: autodiffChain },
] as const;
type VariantKey = (typeof VARIANTS)[number]['key'];

function randomTensor(dims: number[], s: number, scale: number): tf.Tensor {
  const rng = makeRng(s);
  const size = dims.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, () => scale * normal(rng)), dims);
}

/**
 * Backend kernels run by one call. tf.profile also lists scopes that do no work themselves
 * (tidy, tf.grad's "forward", customGrad's wrapper): only names with a registered kernel count.
 */
const kernelRuns = (info: { kernels: Array<{ name: string }> }) =>
  info.kernels.filter((k) => tf.getKernel(k.name, tf.getBackend()) !== undefined).length;

async function launches(fn: () => tf.Tensor): Promise<number> {
  const info = await tf.profile(() => tf.tidy(fn));
  tf.dispose(info.result as tf.Tensor);
  return kernelRuns(info);
}

interface OpRow {
  variant: VariantKey;
  pass: 'forward' | 'forward+backward';
  kernels: number;
  timing: Timing;
  values: Float32Array;
}

async function benchOp(variants: ReadonlyArray<(typeof VARIANTS)[number]> = VARIANTS): Promise<OpRow[]> {
  const x = randomTensor(shape, seed, 3);
  const dy = randomTensor(shape, seed + 1, 1);
  const rows: OpRow[] = [];
  for (const pass of ['forward', 'forward+backward'] as const) {
    for (const v of variants) {
      const call = () => (pass === 'forward' ? v.fn(x) : tf.grad((z: tf.Tensor) => v.fn(z))(x, dy));
      const run = async () => {
        const out = tf.tidy(call);
        const data = (await out.data()) as Float32Array;
        out.dispose();
        return data;
      };
      const values = await run();
      const kernels = await launches(call);
      const timing = await measure(run, { warmup, runs });
      rows.push({ variant: v.key, pass, kernels, timing, values });
      log(`  ${pass.padEnd(16)} ${v.label.padEnd(28)} median ${fmtMs(timing.medianMs)} ms (${kernels} kernels)`);
    }
  }
  tf.dispose([x, dy]);
  return rows;
}

function randomWeights(): Gpt2Weights {
  if (model.nEmbd % 4 !== 0) throw new Error('--d must be a multiple of 4 (4 heads)');
  const config = smallConfig({ ...model, nHead: 4 });
  const { safetensors } = makeRandomCheckpoint({ config, seed, std: 0.4 });
  return gpt2WeightsFromTensors(config, parseSafetensors(safetensors).tensors);
}

interface AttrRow {
  variant: VariantKey;
  kernels: number;
  timing: Timing;
  result: AttributionResult;
}

/**
 * The variants take turns, round by round (one warm-up round, then `attrRuns` timed rounds,
 * the order rotating), so that a change in background load hits all of them alike.
 */
async function benchAttribution(weights: Gpt2Weights, prompt: number[], target: number[]): Promise<AttrRow[]> {
  const samples = new Map<VariantKey, number[]>(VARIANTS.map((v) => [v.key, []]));
  const results = new Map<VariantKey, AttributionResult>();
  const kernels = new Map<VariantKey, number>();
  const run = async (v: (typeof VARIANTS)[number]) => {
    setGeluNewOverride(v.fn);
    const started = performance.now();
    results.set(v.key, await attribute(weights, prompt, target, { steps, rule: 'right', site: 'pre', path: 'fast' }));
    return performance.now() - started;
  };
  let load: CpuLoad | null = null;
  try {
    for (const v of VARIANTS) {
      setGeluNewOverride(v.fn);
      kernels.set(v.key, kernelRuns(await tf.profile(() => attribute(weights, prompt, target, { steps, rule: 'right', site: 'pre', path: 'fast' }).then(() => []))));
      await run(v); // warm-up
    }
    const probe = startLoadProbe();
    for (let round = 0; round < attrRuns; round++) {
      // Rotate who goes first: the position within a round shifts times by a few percent.
      for (let i = 0; i < VARIANTS.length; i++) {
        const v = VARIANTS[(round + i) % VARIANTS.length];
        samples.get(v.key)!.push(await run(v));
      }
    }
    load = probe.stop();
  } finally {
    setGeluNewOverride(null);
  }
  return VARIANTS.map((v) => {
    const timing = summarize(samples.get(v.key)!, 1, load);
    log(`  attribution      ${v.label.padEnd(28)} median ${fmtMs(timing.medianMs)} ms (${kernels.get(v.key)} kernels)`);
    return { variant: v.key, kernels: kernels.get(v.key)!, timing, result: results.get(v.key)! };
  });
}

async function main(): Promise<number> {
  log(`bench/kernels: fused gelu_new on WebGPU vs the tf-op chain, tfjs ${tf.version.tfjs}, tfjs-backend-webgpu ${packageVersion('@tensorflow/tfjs-backend-webgpu')}, webgpu (Dawn) ${packageVersion('webgpu')}`);
  const machine = logMachine(log);
  const gpu = await useWebGpu();
  log(`adapter     ${gpu.adapter}${gpu.icd ? ` (VK_ICD_FILENAMES=${gpu.icd})` : ''}`);
  if (gpu.software) log(`NOTE        ${SOFTWARE_NOTE}`);
  const idle = await logIdleLoad(log);

  log();
  log(`gelu_new on [${shape.join(', ')}] (x ~ N(0, 3²), dy ~ N(0, 1)); ${warmup} warm-up + ${runs} timed runs, each ending with data() ...`);
  const opRows = await benchOp();

  const weights = randomWeights();
  const prompt = [5, 88, 17, 260, 3, 41];
  const target = [77];
  const { nLayer, nEmbd, nInner } = weights.config;
  log();
  log(`attribution: integrated gradients, random GPT-2 (${nLayer} layers, d=${nEmbd}, f=${nInner}, vocab ${weights.config.vocabSize}, seed ${seed}), ` +
    `${prompt.length}-token prompt, 1-token target, m = ${steps} (batches of ${steps + 2} rows), site pre, all layers; 1 warm-up + ${attrRuns} timed rounds, variants interleaved in rotating order ...`);
  const attrRows = await benchAttribution(weights, prompt, target);
  disposeWeights(weights);

  // For reference: the wasm backend (no fused kernel) runs the tf ops with the hand-written
  // gradient instead of autodiff; this shows what that change costs or saves there.
  log();
  log(`wasm (reference, 1 thread): gelu_new on [${shape.join(', ')}], tf ops + hand gradient vs autodiff ...`);
  await initNodeBackend('wasm');
  const wasmRows = await benchOp(VARIANTS.filter((v) => v.key !== 'fused'));
  await tf.setBackend('webgpu');

  // Correctness gate: every variant computes the same numbers as the autodiff chain.
  const agreements: Array<{ what: string; agreement: Agreement }> = [];
  for (const pass of ['forward', 'forward+backward'] as const) {
    const ref = opRows.find((r) => r.pass === pass && r.variant === 'autodiff')!;
    for (const r of opRows.filter((row) => row.pass === pass && row.variant !== 'autodiff')) {
      agreements.push({ what: `${pass}, ${r.variant} vs autodiff`, agreement: compareVectors(r.values, ref.values, 1e-5) });
    }
  }
  for (const r of wasmRows) {
    const ref = opRows.find((row) => row.pass === r.pass && row.variant === 'fused')!;
    agreements.push({ what: `${r.pass}, wasm ${r.variant} vs webgpu fused`, agreement: compareVectors(r.values, ref.values, 1e-5) });
  }
  const attrRef = attrRows.find((r) => r.variant === 'autodiff')!;
  for (const r of attrRows.filter((row) => row.variant !== 'autodiff')) {
    for (const [l, layer] of r.result.layers.entries()) {
      agreements.push({ what: `attribution layer ${l}, ${r.variant} vs autodiff`, agreement: compareVectors(layer.scores, attrRef.result.layers[l].scores, 1e-3) });
    }
  }
  const agree = agreements.every((a) => a.agreement.ok);

  const label = (key: VariantKey) => VARIANTS.find((v) => v.key === key)!.label;
  const opBaseline = (pass: OpRow['pass']) => opRows.find((r) => r.variant === 'autodiff' && r.pass === pass)!.timing.medianMs;
  const attrBaseline = attrRows.find((r) => r.variant === 'autodiff')!.timing.medianMs;
  const tableRows: string[][] = [];
  for (const r of opRows) {
    tableRows.push([
      `gelu_new [${shape.join(',')}] ${r.pass}`, label(r.variant), String(r.kernels), fmtMs(r.timing.medianMs), fmtMs(r.timing.minMs),
      fmtPercent(r.timing.spread), String(r.timing.runs), `${(r.timing.medianMs / opBaseline(r.pass)).toFixed(2)}x`, r.timing.load ? r.timing.load.otherCores.toFixed(2) : '',
    ]);
  }
  const wasmBaseline = (pass: OpRow['pass']) => wasmRows.find((r) => r.variant === 'autodiff' && r.pass === pass)!.timing.medianMs;
  for (const r of wasmRows) {
    tableRows.push([
      `wasm: gelu_new ${r.pass}`, label(r.variant), String(r.kernels), fmtMs(r.timing.medianMs), fmtMs(r.timing.minMs),
      fmtPercent(r.timing.spread), String(r.timing.runs), `${(r.timing.medianMs / wasmBaseline(r.pass)).toFixed(2)}x`, r.timing.load ? r.timing.load.otherCores.toFixed(2) : '',
    ]);
  }
  for (const r of attrRows) {
    tableRows.push([
      `attribution m=${steps}`, label(r.variant), String(r.kernels), fmtMs(r.timing.medianMs), fmtMs(r.timing.minMs),
      fmtPercent(r.timing.spread), String(r.timing.runs), `${(r.timing.medianMs / attrBaseline).toFixed(2)}x`, r.timing.load ? r.timing.load.otherCores.toFixed(2) : '',
    ]);
  }
  log();
  log(formatTable(['case', 'variant', 'kernels', 'median ms', 'min ms', 'spread', 'runs', 'vs autodiff', 'other load'], tableRows));
  log('(kernels = backend kernels run per call, from tf.profile; Identity/Reshape are free on WebGPU; spread = interquartile range / median; other load = cores used by other processes while timing)');

  const timings = [...opRows.map((r) => r.timing), ...attrRows.map((r) => r.timing), ...wasmRows.map((r) => r.timing)];
  const quiet = warnIfBusy(log, timings, ['SwiftShader runs on these same 2 cores: the numbers are NOISY.']);
  log();
  for (const a of agreements) {
    log(`agreement   ${a.what}: max rel err ${a.agreement.maxRelError.toExponential(2)} (tolerance ${a.agreement.tolerance})${a.agreement.ok ? '' : '  <-- DISAGREE'}`);
  }
  log();
  const median = (rows: Array<{ variant: VariantKey; timing: Timing }>, key: VariantKey) => rows.find((r) => r.variant === key)!.timing.medianMs;
  const tag = (...phases: Timing[]) => [agree ? '' : '  [INVALID: results disagree]', phases.some((t) => isBusy(t.load)) ? '  [NOISY: machine busy]' : '', gpu.software ? '  [SwiftShader: indicative only]' : ''].join('');
  const ratios: Record<string, number> = {};
  for (const pass of ['forward', 'forward+backward'] as const) {
    const rows = opRows.filter((r) => r.pass === pass);
    const fused = median(rows, 'fused');
    const unfused = median(rows, 'autodiff');
    ratios[`op ${pass}`] = fused / unfused;
    log(`gelu_new [${shape.join(', ')}] ${pass}: fused ${fused.toFixed(2)} ms, unfused tf-op chain ${unfused.toFixed(2)} ms, ratio ${(fused / unfused).toFixed(2)}x (fused/unfused)` +
      `; tf ops + hand gradient ${median(rows, 'ops').toFixed(2)} ms${tag(...rows.map((r) => r.timing))}`);
  }
  const fusedAttr = median(attrRows, 'fused');
  const unfusedAttr = median(attrRows, 'autodiff');
  ratios.attribution = fusedAttr / unfusedAttr;
  log(`attribution (IG, m=${steps}, ${nLayer} layers, f=${nInner}): fused ${fusedAttr.toFixed(1)} ms, unfused tf-op chain ${unfusedAttr.toFixed(1)} ms, ratio ${(fusedAttr / unfusedAttr).toFixed(2)}x (fused/unfused)` +
    `; tf ops + hand gradient ${median(attrRows, 'ops').toFixed(1)} ms${tag(...attrRows.map((r) => r.timing))}`);
  if (gpu.software) log(`NOTE: ${SOFTWARE_NOTE}`);

  const summaryPath = writeSummary('kernels', {
    benchmark: 'kernels',
    date: new Date().toISOString(),
    ok: agree,
    quiet,
    machine,
    adapter: gpu,
    note: gpu.software ? SOFTWARE_NOTE : undefined,
    loadBeforeTiming: idle,
    kernels: [GELU_NEW_KERNEL, GELU_NEW_GRAD_KERNEL],
    settings: { runs, warmup, attrRuns, steps, seed, shape },
    op: opRows.map((r) => ({ variant: r.variant, pass: r.pass, kernelLaunches: r.kernels, timing: r.timing })),
    wasm: wasmRows.map((r) => ({ variant: r.variant, pass: r.pass, kernelLaunches: r.kernels, timing: r.timing })),
    attribution: { config: { nLayer, nEmbd, nInner }, prompt, target, rows: attrRows.map((r) => ({ variant: r.variant, kernelLaunches: r.kernels, timing: r.timing })) },
    ratios,
    agreement: agreements,
  });
  log(`summary     ${summaryPath}`);
  if (!agree) {
    const bar = 'X'.repeat(78);
    log(bar);
    log('BENCH FAILED: the variants computed different numbers; the timings compare different computations.');
    log(bar);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench/kernels failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
