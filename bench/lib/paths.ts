/** Where benchmarks keep their outputs: bench/.out/ (gitignored, safe to delete). */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (two levels above this file). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BENCH_DIR = join(REPO_ROOT, 'bench');
export const OUT_DIR = join(BENCH_DIR, '.out');
export const PEERS_DIR = join(BENCH_DIR, 'peers');

/** A path under bench/.out/, creating its parent directory. */
export function outPath(...parts: string[]): string {
  const path = join(OUT_DIR, ...parts);
  mkdirSync(dirname(path), { recursive: true });
  return path;
}
