/**
 * The default model's training script is reproducible and resumable: a run interrupted with
 * --stop-after and continued with --resume writes exactly the weights of an uninterrupted run.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);
const train = (...args: string[]) => run('npx', ['tsx', 'scripts/train-default.ts', '--steps', '6', '--eval-every', '1000', ...args], { timeout: 300_000 });

it('stop + resume gives the same weights as one run', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'factlab-train-'));
  await train('--out', join(dir, 'straight'));
  const stopped = await train('--stop-after', '3', '--out', join(dir, 'resumed'));
  expect(stopped.stdout).toMatch(/stopped at step 3 of 6/);
  const resumed = await train('--resume', '--out', join(dir, 'resumed'));
  expect(resumed.stdout).toMatch(/resumed at step 3/);
  const a = readFileSync(join(dir, 'straight', 'model.safetensors'));
  const b = readFileSync(join(dir, 'resumed', 'model.safetensors'));
  expect(b.equals(a)).toBe(true);
}, 600_000);
