/**
 * The default models' training scripts are reproducible and resumable: a run interrupted with
 * --stop-after and continued with --resume writes exactly the weights of an uninterrupted run.
 * Each run keeps its checkpoints in a temporary --cache, never in a real run's.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it.each(['scripts/train-default.ts', 'scripts/train-bert.ts'])('%s: stop + resume gives the same weights as one run', async (script) => {
  const dir = mkdtempSync(join(tmpdir(), 'factlab-train-'));
  const train = (name: string, ...args: string[]) =>
    run('npx', ['tsx', script, '--steps', '6', '--eval-every', '1000', '--cache', join(dir, `cache-${name}`), '--out', join(dir, name), ...args], { timeout: 300_000 });
  await train('straight');
  const stopped = await train('resumed', '--stop-after', '3');
  expect(stopped.stdout).toMatch(/stopped at step 3 of 6/);
  const resumed = await train('resumed', '--resume');
  expect(resumed.stdout).toMatch(/resumed at step 3/);
  const a = readFileSync(join(dir, 'straight', 'model.safetensors'));
  const b = readFileSync(join(dir, 'resumed', 'model.safetensors'));
  expect(b.equals(a)).toBe(true);
}, 600_000);
