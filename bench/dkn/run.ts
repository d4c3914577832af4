/**
 * bench/dkn: clustering + functional filter of degenerate knowledge neurons for one fact of the
 * default model (distances → persistent-homology clusters → P0 → one suppressed pass per
 * candidate cluster → joint drop), factlab on tfjs wasm in Node against a plain-PyTorch CPU
 * peer (bench/peers/gpt2_dkn.py) doing the same on the same weights, neurons and prompts.
 * The knowledge neurons are located once, untimed (integrated gradients are bench/attribute's
 * subject). Target (issue 6): ≤ 1 s for ≤ 50 knowledge neurons.
 * The peer runs one thread by default, like tfjs wasm in Node; on this shared machine, two
 * OpenBLAS threads made the peer's 128-wide matmuls ~100× slower under load (spinning threads).
 *
 *   npm run bench:dkn [-- --fact capital_of/afghanistan --layers 1-3 --runs 5 --warmup 1 --threads 1]
 */
import { rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL_DIR, loadGpt2Engine, parseLayerRange } from '../../src/cli/common';
import { factItems } from '../../src/cli/fact-items';
import { loadFactSetFile, selectFacts } from '../../src/cli/facts-file';
import { initNodeBackend } from '../../src/cli/node-backend';
import { persistentHomologyClusters } from '../../src/core/degeneracy/clustering';
import { neuronDistances } from '../../src/core/degeneracy/distances';
import { findDegenerateNeurons } from '../../src/core/degeneracy/dkn';
import { functionalFilter, makeDropMeter } from '../../src/core/degeneracy/filter';
import { resolveDknSettings } from '../../src/core/degeneracy/settings';
import type { Neuron } from '../../src/core/knowledge/refine';
import type { CpuLoad } from '../lib/load';
import { outPath } from '../lib/paths';
import { describePeerBlas, runPeer, type PeerBlasReport, type PeerRuntime } from '../lib/peer';
import { logBackend, logIdleLoad, logMachine, warnIfBusy } from '../lib/preamble';
import { writeSummary } from '../lib/report';
import { describeTiming, fmtMs, measure, summarize } from '../lib/timing';

interface DknPeerResult {
  runtime: PeerRuntime;
  blas: PeerBlasReport;
  timing: { samples_ms: number[]; load: CpuLoad | null };
  clusters: number[][];
  drops: number[];
  joint_drop: number | null;
  p0: number;
}

const { values: opts } = parseArgs({
  options: {
    fact: { type: 'string', default: 'capital_of/afghanistan' },
    layers: { type: 'string', default: '1-3' },
    runs: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    threads: { type: 'string', default: '1' },
  },
});
const runs = Number(opts.runs);
const warmup = Number(opts.warmup);
const log = (line = '') => process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  log('bench/dkn: DKN clustering + functional filter of one fact, default model');
  const machine = logMachine(log);
  const backend = await initNodeBackend('wasm');
  const started = performance.now();
  const engine = await loadGpt2Engine('default', 'wasm', 'degeneracy');
  logBackend(log, backend, performance.now() - started);
  const set = loadFactSetFile('default');
  const [fact] = selectFacts(set, opts.fact);
  const items = factItems(engine, set, fact);
  const options = { layers: parseLayerRange(opts.layers!, engine.info.config.nLayer), controls: null };
  const settings = resolveDknSettings(options);
  const located = await findDegenerateNeurons(engine.weights, { promptIds: items.map((i) => i.promptIds), targetIds: items[0].targetIds }, options);
  const neurons: Neuron[] = located.neurons.map((n) => [n.layer, n.index]);
  const used = items.slice(0, located.promptsUsed);

  const clusterAndFilter = async () => {
    const distances = await neuronDistances(engine.weights, neurons, { maxSpan: settings.maxSpan, pathRule: settings.pathRule });
    const { clusters } = persistentHomologyClusters(distances.matrix, neurons.length, settings.clustering);
    const meter = await makeDropMeter(engine.weights, used, settings.site);
    const filter = await functionalFilter(clusters.map((c) => c.members.map((k) => neurons[k])), meter.drop, settings.filter);
    return { clusters: clusters.map((c) => c.members), drops: filter.decisions.map((d) => d.drop), jointDrop: filter.jointDrop };
  };

  const idle = await logIdleLoad(log);
  const ours = await measure(clusterAndFilter, { warmup, runs });
  const mine = await clusterAndFilter();
  engine.dispose();

  const jobPath = outPath('dkn-job.json');
  writeFileSync(jobPath, JSON.stringify({ neurons, prompts: used.map((i) => i.promptIds), target: used[0].targetIds, settings: { ...settings.clustering, maxSpan: settings.maxSpan, thresholdLow: settings.filter.thresholdLow } }));
  const peer = await runPeer<DknPeerResult>('gpt2_dkn', ['--checkpoint', DEFAULT_MODEL_DIR, '--job', jobPath, '--runs', String(runs), '--warmup', String(warmup), '--threads', opts.threads!]);
  rmSync(jobPath, { force: true });
  const p = peer.result;
  log(`torch       ${p.runtime.torch} (python ${p.runtime.python}), ${p.runtime.threads} thread(s)`);
  const blasView = describePeerBlas(p.blas, peer.unsetEnv);
  for (const line of blasView.lines) log(line);
  const theirs = summarize(p.timing.samples_ms, warmup, p.timing.load);

  const sameClusters = JSON.stringify(mine.clusters) === JSON.stringify(p.clusters);
  const dropError = Math.max(0, ...mine.drops.map((d, k) => Math.abs((d ?? 0) - (p.drops[k] ?? 0))), Math.abs((mine.jointDrop ?? 0) - (p.joint_drop ?? 0)));
  const ok = sameClusters && dropError <= 1e-3;
  log(`job         ${fact.id}, ${neurons.length} knowledge neurons (layers ${opts.layers}), ${used.length} prompts, ${mine.clusters.length} candidate clusters; ${runs} runs after ${warmup} warm-up`);
  log(`agreement   clusters ${sameClusters ? 'identical' : 'DIFFER'}; max |drop difference| ${dropError.toExponential(2)} (factlab drops ${JSON.stringify(mine.drops.map((d) => d?.toFixed(4)))}, joint ${mine.jointDrop?.toFixed(4) ?? '—'})`);
  log(`tfjs-wasm   ${describeTiming(ours)}`);
  log(`torch-cpu   ${describeTiming(theirs)}`);
  const quiet = warnIfBusy(log, [ours, theirs]);
  const ratio = ours.medianMs / theirs.medianMs;
  log();
  log(`dkn: tfjs-wasm ${fmtMs(ours.medianMs)} ms, torch-cpu ${fmtMs(theirs.medianMs)} ms, ratio ${ratio.toFixed(2)}x (tfjs/torch); target ≤ 1 s: ${ours.medianMs <= 1000 ? 'met' : 'NOT met'}${ok ? '' : '  [INVALID: the results disagree]'}${blasView.trustworthy ? '' : '  [MEANINGLESS: slow BLAS]'}${quiet ? '' : '  [NOISY: machine busy]'}`);
  const summaryPath = writeSummary('dkn', {
    benchmark: 'dkn', date: new Date().toISOString(), ok, quiet, machine, loadBeforeTiming: idle, fact: fact.id, layers: opts.layers, neurons: neurons.length, prompts: used.length,
    tfjs: { backend: backend.name, timing: ours, result: mine }, torch: { runtime: p.runtime, blas: p.blas, trustworthy: blasView.trustworthy, timing: theirs, command: peer.command, result: { clusters: p.clusters, drops: p.drops, jointDrop: p.joint_drop, p0: p.p0 } },
    ratio, agreement: { sameClusters, dropError },
  });
  log(`summary     ${summaryPath}`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench/dkn failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
