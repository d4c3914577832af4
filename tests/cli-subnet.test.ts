import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '../src/core/model/safetensors';
import { expectCleanError, factlab, type CliResult } from './helpers/cli';
import { tinyGpt2Config, writeModelFolder } from './helpers/model-folder';

let folder: string;
let library: string;
let lmText: string;
const STEPS = '30';

beforeAll(() => {
  folder = writeModelFolder();
  library = join(folder, 'facts.csv');
  writeFileSync(
    library,
    'subject,relation,object,prompts\n' +
      'France,capital_city,Paris,The capital of France is\n' +
      'Japan,capital_city,Tokyo,The capital of Japan is\n' +
      'Italy,capital_city,Rome,The capital of Italy is\n' +
      'France,money,euro,The currency of France is the\n' +
      'Japan,money,yen,The currency of Japan is the\n' +
      'India,money,rupee,The currency of India is the\n',
  );
  lmText = join(folder, 'lm.txt');
  writeFileSync(lmText, 'The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a single step. '.repeat(6));
});

const trainArgs = (out: string) => [
  'subnet', 'train', '--model', folder, '--facts', library, '--target-relation', 'capital_city', '--lm', lmText,
  '--steps', STEPS, '--control-batch', '2', '--lm-batch', '2', '--lm-block', '16', '--eval-every', '10', '--checkpoint-every', '5', '--seed', '7', '--lambda-reg', '4,6', '--out', out,
];

/** Runs the CLI and sends it SIGINT once its progress shows `step N/`. */
function interruptedRun(args: string[], atStep: number): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn('node', ['bin/factlab.js', ...args]);
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      if (!sent && stderr.includes(`step ${atStep}/`)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

const logitsOf = (file: string) => {
  const { tensors, metadata } = parseSafetensors(readFileSync(file), file);
  return { step: Number(metadata.step), values: [...tensors].map(([name, t]) => [name, Array.from(t.data)]) };
};

describe('factlab subnet', () => {
  let straight: string;

  it('train: progress on stderr, the mask and its optimizer state at --out, the result as JSON', async () => {
    straight = join(folder, 'straight.safetensors');
    const result = await factlab(...trainArgs(straight), '--json');
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out).toMatchObject({ status: 'completed', steps: 30, out: straight });
    expect(out.target).toMatch(/--target-relation capital_city/);
    expect(out.control).toMatch(/not targets/);
    expect(out.result.data).toEqual({ target: 3, controlKg: 3, controlKgEval: 3, controlLmBlocks: expect.any(Number) });
    expect(out.result.deviations.map((d: { setting: string }) => d.setting)).toEqual(expect.arrayContaining(['steps', 'controlKgBatch', 'controlLmBatch', 'controlLmBlock', 'lambdaReg.init', 'lambdaReg.final']));
    expect(out.result.settings.lambdaReg).toEqual({ init: 4, final: 6 });
    expect(result.stderr).toMatch(/step 30\/30 +suppress [\d.]+ +controlKG [\d.]+ +controlLM [\d.]+/);
    expect(result.stderr).toMatch(/eval at step 30: sparsity/);
    expect(logitsOf(straight).step).toBe(30);
    expect(existsSync(`${straight}.adam.safetensors`)).toBe(true);
  });

  it('Ctrl-C stops after the current step with the checkpoint kept; --resume continues to the same mask', async () => {
    const out = join(folder, 'interrupted.safetensors');
    const stopped = await interruptedRun(trainArgs(out), 3);
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(/stopping after this step; the checkpoint is kept/);
    expect(stopped.stdout).toMatch(/stopped after \d+\/30 steps/);
    const step = logitsOf(out).step;
    expect(step).toBeGreaterThanOrEqual(3);
    expect(step).toBeLessThan(30);
    expectCleanError(await factlab(...trainArgs(out)), /exists: pass --resume/);
    expectCleanError(await factlab(...trainArgs(out).map((a) => (a === STEPS ? '31' : a)), '--resume'), /--steps 31 differs from the checkpoint's 30/);
    const resumed = await factlab(...trainArgs(out), '--resume', '--json');
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(new RegExp(`resuming .* at step ${step}\\n`));
    expect(JSON.parse(resumed.stdout).result).toMatchObject({ status: 'completed', resumedFrom: step, steps: 30 });
    expect(logitsOf(out).values).toEqual(logitsOf(straight).values);
  });

  it('eval: full vs remaining model vs the random mask of the same size, as JSON', async () => {
    const result = await factlab('subnet', 'eval', '--model', folder, '--mask', straight, '--facts', library, '--target-relation', 'capital_city', '--lm', lmText, '--lm-block', '16', '--json');
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out.mask).toMatchObject({ encoding: 'logits', step: 30, seed: 7 });
    const { summary, evaluation } = out;
    expect(summary.sparsity).toBeGreaterThan(0);
    expect(summary.sparsity).toBeLessThanOrEqual(1);
    expect(evaluation.remaining.target.n).toBe(3);
    expect(evaluation.full.controlKg.n).toBe(3);
    expect(evaluation.random.seed).toBe(7);
    expect(evaluation.random.scores.controlLm.blocks).toBe(evaluation.full.controlLm.blocks);
    // the random baseline removes exactly as many weights per module as the mask
    expect(summary.deltaPpl.target).toBeCloseTo(evaluation.remaining.target.ppl - evaluation.full.target.ppl, 6);
    expect(summary.targetTop1.remaining).toBeLessThanOrEqual(1);
  });

  it('rejects overlapping or empty sets and a mask of another model shape, one clear line each', async () => {
    const evalArgs = ['subnet', 'eval', '--model', folder, '--mask', straight, '--facts', library];
    expectCleanError(await factlab(...evalArgs, '--target-relation', 'capital_city', '--control-ids', 'money/japan,capital_city/japan'), /TargetKG and ControlKG share 1 fact\(s\): capital_city\/japan/);
    const empty = join(folder, 'empty.json');
    writeFileSync(empty, '{"facts": []}');
    expectCleanError(await factlab(...evalArgs, '--target', empty), /TargetKG is empty \(.*empty\.json\): there is no knowledge to remove/);
    expectCleanError(await factlab(...evalArgs, '--target-relation', 'money', '--control', empty), /ControlKG is empty/);
    expectCleanError(await factlab(...evalArgs, '--target-relation', 'capital_city', '--control-relation', 'capital_city,money'), /share 3 fact/);
    expectCleanError(await factlab(...evalArgs, '--target-ids', 'capital_city/france', '--target-relation', 'money'), /Give one of --target, --target-ids and --target-relation/);
    for (const bad of ['2', '2,x', '-1,3', '2,3,4']) expectCleanError(await factlab(...trainArgs(join(folder, 'never.safetensors')), `--lambda-reg=${bad}`), /--lambda-reg wants two numbers ≥ 0 as INIT,FINAL/);
    const other = writeModelFolder({ config: tinyGpt2Config({ nInner: 32 }) });
    expectCleanError(await factlab('subnet', 'eval', '--model', other, '--mask', straight, '--facts', library, '--target-relation', 'money'), /the mask is for a model with 2 layers, width 16 and FFN 64; the loaded model has 2, 16 and 32/);
  });
});
