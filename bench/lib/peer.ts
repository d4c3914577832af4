/**
 * Running a Python peer: `/usr/bin/python3 bench/peers/<name>.py ARGS`, one JSON object on
 * stdout, diagnostics on stderr (echoed here with a prefix).
 *
 * The peer uses Debian's python3-torch. /usr/bin/python3 is used on purpose: the pyenv
 * `python3` on PATH has no torch. Override with FACTLAB_BENCH_PYTHON.
 *
 * OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: some machines here set them because old OpenBLAS
 * builds miscompute on their processors; they pin a slower kernel. For a benchmark the
 * peer's command alone runs with both unset (never the parent process, tests or CI), and
 * the peer reports the core type OpenBLAS then picked.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PEERS_DIR, REPO_ROOT } from './paths';

export const PEER_PYTHON = process.env.FACTLAB_BENCH_PYTHON ?? '/usr/bin/python3';

/** Variables removed from the peer's environment (together, as the env README asks). */
export const UNSET_FOR_PEER = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'] as const;

export interface PeerEnv {
  env: NodeJS.ProcessEnv;
  /** What the parent had for each removed variable (undefined: it was not set). */
  unset: Record<string, string | undefined>;
}

export function peerEnv(base: NodeJS.ProcessEnv = process.env): PeerEnv {
  const env = { ...base };
  const unset: Record<string, string | undefined> = {};
  for (const name of UNSET_FOR_PEER) {
    unset[name] = env[name];
    delete env[name];
  }
  return { env, unset };
}

export interface PeerRun<T> {
  result: T;
  stderr: string;
  elapsedMs: number;
  command: string[];
  unsetEnv: Record<string, string | undefined>;
}

export interface RunPeerOptions {
  timeoutMs?: number;
  /** Echo the peer's stderr lines as they come (default true). */
  echoStderr?: boolean;
}

export class PeerError extends Error {}

/** Runs bench/peers/<name>.py with `args`; resolves with its parsed JSON, rejects with its stderr on any failure. */
export function runPeer<T>(name: string, args: string[], options: RunPeerOptions = {}): Promise<PeerRun<T>> {
  const script = join(PEERS_DIR, `${name}.py`);
  if (!existsSync(script)) return Promise.reject(new PeerError(`no peer script ${script}`));
  if (!existsSync(PEER_PYTHON)) {
    return Promise.reject(new PeerError(`${PEER_PYTHON} not found: the peers need Debian's python3 with python3-torch (apt-get install -y python3-torch libopenblas0-openmp)`));
  }
  const { env, unset } = peerEnv();
  const command = [PEER_PYTHON, script, ...args];
  const echo = options.echoStderr ?? true;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      stderr += text;
      if (!echo) return;
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) process.stderr.write(`  ${line}\n`);
    });
    const timer = options.timeoutMs
      ? setTimeout(() => {
          child.kill('SIGKILL');
          reject(new PeerError(`peer ${name} timed out after ${options.timeoutMs} ms\n${stderr.slice(-2000)}`));
        }, options.timeoutMs)
      : undefined;
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new PeerError(`could not start peer ${name} (${command[0]}): ${err.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (echo && pending) process.stderr.write(`  ${pending}\n`);
      if (code !== 0) {
        reject(new PeerError(`peer ${name} exited with ${code ?? signal}:\n${stderr.slice(-4000)}`));
        return;
      }
      const stdout = Buffer.concat(out).toString('utf8').trim();
      try {
        resolve({ result: JSON.parse(stdout) as T, stderr, elapsedMs: performance.now() - started, command, unsetEnv: unset });
      } catch {
        reject(new PeerError(`peer ${name} did not print one JSON object on stdout; it began: ${JSON.stringify(stdout.slice(0, 300))}`));
      }
    });
  });
}

/** What bench/peers/benchlib.py's blas_report() returns. */
export interface PeerBlasReport {
  kind: 'openblas' | 'mkl' | 'blis' | 'atlas' | 'reference' | 'unknown';
  summary: string;
  reference: boolean;
  slow: boolean;
  gemm_gflops: number;
  torch_build_blas: string | null;
  torch_build_lapack: string | null;
  torch_cpu_capability: string | null;
  libraries: Array<{ path: string; realpath: string }>;
  openblas: { config?: string; corename?: string; threads?: number; parallel?: string; error?: string } | null;
  threadpoolctl: Array<Record<string, unknown>> | null;
  env: Record<string, string | null>;
}

export interface PeerRuntime {
  python: string;
  executable: string;
  torch: string;
  numpy: string;
  threads: number;
  interop_threads: number;
}

/**
 * Lines describing the peer's BLAS, and whether a ratio against it means anything.
 * A reference-BLAS (or otherwise very slow) peer gets a loud banner.
 */
export function describePeerBlas(blas: PeerBlasReport, unsetEnv: Record<string, string | undefined>): { lines: string[]; trustworthy: boolean } {
  const lines: string[] = [];
  lines.push(`BLAS        ${blas.summary}`);
  lines.push(`            torch build: BLAS_INFO=${blas.torch_build_blas ?? '?'}, CPU capability ${blas.torch_cpu_capability ?? '?'}`);
  const libs = blas.libraries.map((l) => (l.path === l.realpath ? l.path : `${l.path} -> ${l.realpath}`));
  lines.push(`            loaded: ${libs.length ? libs.join(', ') : '(no BLAS library mapped)'}`);
  if (blas.openblas?.corename && blas.kind !== 'openblas') {
    lines.push(`            (OpenBLAS ${blas.openblas.corename} is mapped too, but libblas.so.3, which torch's sgemm calls, is not it)`);
  } else if (blas.openblas?.corename) {
    const tp = blas.threadpoolctl?.find((e) => e.internal_api === 'openblas');
    lines.push(`            OpenBLAS core type: ${blas.openblas.corename}${tp?.architecture ? ` (threadpoolctl: ${String(tp.architecture)})` : ''}, ${blas.openblas.parallel ?? '?'} threading, ${blas.openblas.threads ?? '?'} threads`);
  }
  const removed = Object.entries(unsetEnv).map(([k, v]) => `${k}${v === undefined ? ' (was not set)' : `=${v} (unset for the peer)`}`);
  lines.push(`            env: ${removed.join(', ')}`);
  const trustworthy = !blas.reference && !blas.slow && blas.kind !== 'unknown';
  if (!trustworthy) {
    const bar = '!'.repeat(78);
    lines.push(bar);
    lines.push(blas.reference
      ? `!! WARNING: the torch peer runs on the REFERENCE BLAS (${blas.gemm_gflops} GFLOP/s).`
      : `!! WARNING: the torch peer's BLAS is ${blas.kind} at only ${blas.gemm_gflops} GFLOP/s.`);
    lines.push('!! The torch times below are ~30x too slow and the ratio is MEANINGLESS.');
    lines.push('!! Fix: apt-get install -y libopenblas0-openmp (libblas.so.3 then resolves to OpenBLAS).');
    lines.push(bar);
  }
  return { lines, trustworthy };
}
