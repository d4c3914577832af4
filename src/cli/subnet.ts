/**
 * `factlab subnet train|eval`: knowledge-critical subnetworks (methods.md §5, D7).
 * train: learns a mask that removes TargetKG and keeps ControlKG (and ControlLM), with progress
 * on stderr, checkpoints at --out, Ctrl-C stopping after the current step with the checkpoint
 * kept, and --resume continuing exactly. eval: full vs remaining model vs the random baseline.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Gpt2Engine } from '../core/engine';
import { FactlabError } from '../core/errors';
import type { Gpt2Config } from '../core/model/config';
import { lmBlocks } from '../core/subnetwork/data';
import { createMaskState, disposeMaskState, type MaskState } from '../core/subnetwork/mask';
import { importMask } from '../core/subnetwork/mask-io';
import { evaluateSubnetwork, type SubnetEvaluation } from '../core/subnetwork/metrics';
import { SubnetController, type SubnetProgress } from '../core/subnetwork/progress';
import { resolveSettings, type SubnetOptions } from '../core/subnetwork/settings';
import { trainSubnetwork, type ResumePoint } from '../core/subnetwork/trainer';
import { loadGpt2Engine, parseCommandArgs, parseLayerRange, parsePositiveInt, printJson } from './common';
import { dataFingerprint, momentsPath, readCheckpoint, writeCheckpoint, writeFinalMask } from './subnet-checkpoint';
import { lmTokens, SET_OPTIONS, SET_USAGE, subnetSets } from './subnet-sets';

export const SUBNET_USAGE = `  subnet    knowledge-critical subnetworks: a sparse weight mask whose removal deletes the target facts
            subnet train --model M --out MASK.safetensors
${SET_USAGE}
            [--layers A-B] [--steps 40000] [--seed 1318] [--profile node|browser] [--control-batch 250]
            [--lm-batch 10] [--lm-block 512] [--vocab-chunk 0] [--lambda-reg 2,3] [--eval-every 100]
            [--checkpoint-every 200] [--resume] [--json]   (Ctrl-C stops after the current step and keeps the checkpoint)
            subnet eval --model M --mask MASK.safetensors
${SET_USAGE}
            [--lm-block 512] [--random-seed 1318] [--json]
`;

const TRAIN_OPTIONS = {
  model: { type: 'string' }, ...SET_OPTIONS, layers: { type: 'string' }, steps: { type: 'string' }, seed: { type: 'string' }, profile: { type: 'string' },
  'control-batch': { type: 'string' }, 'lm-batch': { type: 'string' }, 'lm-block': { type: 'string' }, 'vocab-chunk': { type: 'string' },
  'lambda-reg': { type: 'string' }, 'eval-every': { type: 'string' }, 'checkpoint-every': { type: 'string' }, out: { type: 'string' }, resume: { type: 'boolean' },
} as const;

type Args = Record<string, string | boolean | undefined>;
const int = (args: Args, flag: string, max = 10_000_000) => (args[flag] === undefined ? undefined : parsePositiveInt(args[flag] as string, `--${flag}`, 0, max));

function integer(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value)) throw new FactlabError('usage', `${flag} must be an integer, got "${text}".`);
  return value;
}

/** λ_reg as INIT,FINAL (the code's schedule is 2,3; a short run may want it stronger). */
function lambdaRegOf(text: string | undefined): SubnetOptions['lambdaReg'] {
  if (text === undefined) return undefined;
  const parts = text.split(',').map((t) => (t.trim() === '' ? NaN : Number(t)));
  if (parts.length !== 2 || !parts.every((x) => Number.isFinite(x) && x >= 0)) throw new FactlabError('usage', `--lambda-reg wants two numbers ≥ 0 as INIT,FINAL (e.g. 2,3), got "${text}".`);
  return { init: parts[0], final: parts[1] };
}

/** The ControlLM block: --lm-block, else the profile's, cut to the model's positions. */
function lmBlockFor(args: Args, config: Gpt2Config, profileBlock: number): number {
  const block = int(args, 'lm-block') ?? Math.min(profileBlock, config.nPositions);
  if (block < 2 || block > config.nPositions) throw new FactlabError('usage', `--lm-block must be from 2 to the model's ${config.nPositions} positions, got ${block}.`);
  return block;
}

function trainOptions(args: Args, config: Gpt2Config): SubnetOptions {
  const profile = (args.profile ?? 'node') as 'node' | 'browser';
  if (profile !== 'node' && profile !== 'browser') throw new FactlabError('usage', `--profile must be node or browser, got "${String(args.profile)}".`);
  const range = args.layers === undefined ? undefined : parseLayerRange(args.layers as string, config.nLayer);
  const vocabChunk = args['vocab-chunk'] === undefined ? undefined : integer(args['vocab-chunk'] as string, '--vocab-chunk');
  return {
    profile,
    layers: range && Array.from({ length: range[1] - range[0] + 1 }, (_, i) => range[0] + i),
    steps: int(args, 'steps'),
    seed: integer(args.seed as string | undefined, '--seed'),
    controlKgBatch: int(args, 'control-batch'),
    controlLmBatch: int(args, 'lm-batch'),
    controlLmBlock: lmBlockFor(args, config, resolveSettings({ profile }).controlLmBlock),
    vocabChunk,
    lambdaReg: lambdaRegOf(args['lambda-reg'] as string | undefined),
    evalEvery: int(args, 'eval-every'),
    checkpointEvery: int(args, 'checkpoint-every'),
  };
}

const fixed = (x: number | null, digits = 4) => (x === null ? '—' : x.toFixed(digits));
const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

function progressPrinter(steps: number): (e: SubnetProgress) => void {
  const tty = process.stderr.isTTY;
  const every = Math.max(1, Math.round(steps / 50));
  return (e) => {
    if (e.kind === 'step') {
      const r = e.record;
      const eta = (e.seconds / r.step) * (e.steps - r.step);
      const line = `step ${r.step}/${e.steps}  suppress ${fixed(r.losses.suppress)}  controlKG ${fixed(r.losses.controlKg)}  controlLM ${fixed(r.losses.controlLm)}  density ${fixed(r.losses.density)}  sparsity ${pct(r.sparsity)}  ${e.seconds.toFixed(0)} s, ETA ${eta.toFixed(0)} s`;
      if (tty) process.stderr.write(`\r${line}   `);
      else if (r.step % every === 0 || r.step === e.steps) process.stderr.write(`${line}\n`);
    } else if (e.kind === 'eval') {
      const r = e.record;
      process.stderr.write(`${tty ? '\n' : ''}eval at step ${r.step}: sparsity ${pct(r.sparsity)}; target P ${r.target.meanProb.toFixed(4)} top-1 ${pct(r.target.top1)}; control P ${r.control.meanProb.toFixed(4)} top-1 ${pct(r.control.top1)}\n`);
    }
  };
}

export async function runSubnetTrain(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, TRAIN_OPTIONS, 'subnet train');
  if (!args.out) throw new FactlabError('usage', 'subnet train needs --out MASK.safetensors (the checkpoints and the final mask go there).');
  const out = args.out;
  if (!args.resume && existsSync(out)) throw new FactlabError('usage', `${out} exists: pass --resume to continue that run, or choose another --out.`);
  const engine = await loadGpt2Engine(args.model, args.backend, 'subnetwork');
  try {
    const { config } = engine.weights;
    const sets = subnetSets(engine, args);
    const lm = lmTokens(engine, args.lm);
    const data = dataFingerprint(sets.target, sets.control, lm);
    let options = trainOptions(args, config);
    let state: MaskState | undefined;
    let resume: ResumePoint | undefined;
    if (args.resume) {
      const checkpoint = readCheckpoint(out, config, engine.info.id);
      const saved = checkpoint.stored.settings;
      if (checkpoint.stored.data !== data) throw new FactlabError('bad-resume', `${out} was trained on other target/control/LM data; resume with the same --target, --control and --lm.`);
      const given = { steps: options.steps, seed: options.seed, layers: options.layers?.join(',') };
      const was = { steps: saved.steps, seed: saved.seed, layers: checkpoint.mask.layers.join(',') };
      for (const key of ['steps', 'seed', 'layers'] as const) {
        if (given[key] !== undefined && given[key] !== was[key]) throw new FactlabError('bad-resume', `--${key} ${given[key]} differs from the checkpoint's ${was[key]}; resume with the same settings (or leave the flag out).`);
      }
      options = { ...saved, layers: checkpoint.mask.layers };
      state = createMaskState(config, { layers: checkpoint.mask.layers, initial: checkpoint.mask.logits, initP: saved.initP, temperature: saved.temperature });
      resume = checkpoint.resume;
      process.stderr.write(`resuming ${out} at step ${resume.step}${resume.moments ? '' : ' (no matching optimizer state: Adam restarts)'}\n`);
    }
    const settings = resolveSettings(options);
    const stored = { settings, data };
    const modelId = engine.info.id;
    const controller = new SubnetController();
    let stopping = false;
    const onSigint = () => {
      if (stopping) process.exit(130); // the last checkpoint on disk is complete: files are renamed into place
      stopping = true;
      controller.stop();
      process.stderr.write('\nstopping after this step; the checkpoint is kept (Ctrl-C again to quit at once)\n');
    };
    process.on('SIGINT', onSigint);
    try {
      const { result, state: final } = await trainSubnetwork(engine.weights, { target: sets.target, controlKg: sets.control, controlLmTokens: lm }, { ...options, modelId, state, resume }, {
        controller,
        onProgress: progressPrinter(settings.steps),
        onCheckpoint: ({ step, state: current, trainer }) => writeCheckpoint(out, modelId, step, current, trainer, stored),
      });
      if (result.status === 'completed') {
        await writeFinalMask(out, modelId, result.steps, final, stored);
      }
      disposeMaskState(final);
      const summary = { status: result.status, steps: result.steps, sparsity: result.sparsity.sparsity, seconds: result.seconds, out, moments: momentsPath(out), target: sets.targetFrom, control: sets.controlFrom };
      if (args.json) printJson({ model: modelId, ...summary, result });
      else {
        const last = result.evals.at(-1)!;
        process.stdout.write(`${result.status} after ${result.steps}/${settings.steps} steps in ${result.seconds.toFixed(1)} s; sparsity ${pct(result.sparsity.sparsity)}\n`);
        process.stdout.write(`target P ${result.full.target.meanProb.toFixed(4)} → ${last.target.meanProb.toFixed(4)}, control P ${result.full.control.meanProb.toFixed(4)} → ${last.control.meanProb.toFixed(4)}\n`);
        process.stdout.write(`mask logits: ${out}${result.status === 'stopped' ? ` (resume with --resume)` : ''}\n`);
      }
      return result.status === 'stopped' ? 130 : 0;
    } finally {
      process.off('SIGINT', onSigint);
    }
  } finally {
    engine.dispose();
  }
}

/** The numbers a reader checks first, from an evaluation. */
export function evaluationSummary(e: SubnetEvaluation) {
  const rel = (delta: number | undefined, full: number | undefined) => (delta === undefined || full === undefined ? null : delta / full);
  return {
    sparsity: e.sparsity.sparsity,
    deltaPpl: e.delta,
    relativeDeltaPpl: { controlKg: rel(e.delta.controlKg, e.full.controlKg.ppl), controlLm: rel(e.delta.controlLm, e.full.controlLm?.ppl) },
    targetTop1: { full: e.full.target.top1, remaining: e.remaining.target.top1, random: e.random?.scores.target.top1 ?? null },
    targetAnswerTop1: { full: e.full.target.answerTop1, remaining: e.remaining.target.answerTop1, random: e.random?.scores.target.answerTop1 ?? null },
    random: e.random ? { deltaPpl: e.random.delta, relativeDeltaPpl: { controlKg: rel(e.random.delta.controlKg, e.full.controlKg.ppl), controlLm: rel(e.random.delta.controlLm, e.full.controlLm?.ppl) } } : null,
  };
}

function readMask(engine: Gpt2Engine, file: string | undefined) {
  if (!file) throw new FactlabError('usage', 'subnet eval needs --mask MASK.safetensors (from `factlab subnet train`).');
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch {
    throw new FactlabError('usage', `Cannot read the mask file ${file}: check the path.`);
  }
  const mask = importMask(bytes, { dims: engine.weights.config, fileName: file });
  if (mask.info.modelId !== engine.info.id) process.stderr.write(`note: ${file} was trained on "${mask.info.modelId}"; evaluating it on "${engine.info.id}", which has the same shape\n`);
  return mask;
}

export async function runSubnetEval(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, { model: { type: 'string' }, mask: { type: 'string' }, ...SET_OPTIONS, 'lm-block': { type: 'string' }, 'random-seed': { type: 'string' } }, 'subnet eval');
  const engine = await loadGpt2Engine(args.model, args.backend, 'subnetwork');
  try {
    const mask = readMask(engine, args.mask);
    const sets = subnetSets(engine, args);
    const lm = lmTokens(engine, args.lm);
    const controlLm = lm && lmBlocks(lm, lmBlockFor(args, engine.weights.config, 512));
    if (controlLm && controlLm.length === 0) throw new FactlabError('bad-subnet-data', `The ControlLM text ${args.lm} is shorter than one block.`);
    const randomSeed = integer(args['random-seed'], '--random-seed') ?? mask.info.seed ?? 1318;
    const evaluation = await evaluateSubnetwork(engine.weights, mask.binary, { target: sets.target, controlKg: sets.control, controlLm }, { randomSeed, subnetwork: true });
    const summary = evaluationSummary(evaluation);
    if (args.json) printJson({ model: engine.info.id, mask: { file: args.mask, encoding: mask.encoding, ...mask.info }, target: sets.targetFrom, control: sets.controlFrom, summary, evaluation });
    else {
      const line = (name: string, full: number, remaining: number, random: number | undefined) => process.stdout.write(`${name.padEnd(10)} PPL full ${full.toPrecision(4)}  remaining ${remaining.toPrecision(4)}  random-mask ${random?.toPrecision(4) ?? '—'}\n`);
      process.stdout.write(`sparsity ${pct(summary.sparsity)} (${evaluation.sparsity.kept} of ${evaluation.sparsity.total} masked weights in the subnetwork)\n`);
      line('TargetKG', evaluation.full.target.ppl, evaluation.remaining.target.ppl, evaluation.random?.scores.target.ppl);
      line('ControlKG', evaluation.full.controlKg.ppl, evaluation.remaining.controlKg.ppl, evaluation.random?.scores.controlKg.ppl);
      if (evaluation.full.controlLm) line('ControlLM', evaluation.full.controlLm.ppl, evaluation.remaining.controlLm!.ppl, evaluation.random?.scores.controlLm?.ppl);
      process.stdout.write(`target top-1 ${pct(summary.targetTop1.full)} → ${pct(summary.targetTop1.remaining)} (random mask ${summary.targetTop1.random === null ? '—' : pct(summary.targetTop1.random)})\n`);
    }
    return 0;
  } finally {
    engine.dispose();
  }
}

export async function runSubnet(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'train') return runSubnetTrain(rest);
  if (sub === 'eval') return runSubnetEval(rest);
  throw new FactlabError('usage', `subnet needs a subcommand: train or eval${sub ? `, not "${sub}"` : ''}.`);
}
