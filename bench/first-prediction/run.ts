/**
 * Time from opening the lab to its first prediction on the default model (wasm backend), in
 * Chromium against the production build, cached vs. uncached in the same run.
 *
 *   cached    the second and later visits in one browser profile: the service worker and
 *             the HTTP cache serve the app, the tfjs wasm binaries and the default model
 *   uncached  a fresh profile each time: everything comes over (local) HTTP
 *
 * The time is read in the page: performance.now() (ms since the navigation started) when the
 * first row of the top-token table appears. Target: cached ≤ 3 s on this machine.
 *
 *   npx tsx bench/first-prediction/run.ts [--runs 5] [--port 5204] [--no-build]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from '@playwright/test';
import { formatTable, machineInfo, packageVersion, writeSummary } from '../lib/report';
import { REPO_ROOT } from '../lib/paths';
import { fmtMs, summarize, type Timing } from '../lib/timing';

const TARGET_MS = 3000;
const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const RUNS = Number(option('runs', '5'));
const PORT = Number(option('port', process.env.BENCH_PORT ?? '5204'));
const OUT_DIR = join(REPO_ROOT, '.cache', 'bench-first-prediction-dist');
const ORIGIN = `http://127.0.0.1:${PORT}`;
const CHROMIUM = '/usr/bin/chromium';

function run(command: string, argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${argv.join(' ')} exited with ${code}`))));
  });
}

async function startPreview(): Promise<ChildProcess> {
  const server = spawn('npx', ['vite', 'preview', '--outDir', OUT_DIR, '--host', '127.0.0.1', '--port', String(PORT), '--strictPort'], { cwd: REPO_ROOT, stdio: 'ignore', detached: true });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${ORIGIN}/`)).ok) return server;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  process.kill(-server.pid!);
  throw new Error(`vite preview did not answer on ${ORIGIN} (is the port taken? use --port)`);
}

/** Opens the lab in a new page of `context` and returns the in-page ms to the first prediction. */
async function firstPrediction(context: BrowserContext): Promise<number> {
  const page = await context.newPage();
  try {
    await page.goto(`${ORIGIN}/?backend=wasm`);
    const handle = await page.waitForFunction(() => (document.querySelector('[data-testid="top-token-row"]') ? performance.now() : 0), undefined, { timeout: 120_000, polling: 'raf' });
    const ms = (await handle.jsonValue()) as number;
    const backend = await page.getByTestId('backend-name').textContent();
    if (backend !== 'wasm') throw new Error(`expected the wasm backend, the page runs ${backend}`);
    return ms;
  } finally {
    await page.close();
  }
}

async function uncached(browser: Browser): Promise<Timing> {
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const context = await browser.newContext();
    samples.push(await firstPrediction(context));
    await context.close();
  }
  return summarize(samples);
}

async function cached(browser: Browser): Promise<Timing> {
  const context = await browser.newContext();
  // First visit (not timed): fills the HTTP cache and lets the service worker precache.
  await firstPrediction(context);
  const page = await context.newPage();
  await page.goto(`${ORIGIN}/`);
  await page.waitForFunction(async () => !!navigator.serviceWorker.controller && (await caches.keys()).some((k) => k.startsWith('factlab-precache-')), undefined, { timeout: 120_000, polling: 500 });
  await page.close();
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) samples.push(await firstPrediction(context));
  await context.close();
  return summarize(samples, 1);
}

async function main(): Promise<void> {
  if (!args.includes('--no-build')) {
    console.log('building the app…');
    await run('npx', ['vite', 'build', '--outDir', OUT_DIR, '--emptyOutDir', '--logLevel', 'warn']);
  }
  const server = await startPreview();
  const browser = await chromium.launch({
    ...(existsSync(CHROMIUM) ? { executablePath: CHROMIUM } : {}),
    args: ['--headless=new', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const cold = await uncached(browser);
    const warm = await cached(browser);
    const ratio = cold.medianMs / warm.medianMs;
    const row = (name: string, t: Timing) => [name, fmtMs(t.medianMs), fmtMs(t.minMs), fmtMs(t.maxMs), String(t.runs)];
    console.log(`\nfirst prediction on the default model, wasm, Chromium ${browser.version()}, tfjs ${packageVersion('@tensorflow/tfjs')}, ${machineInfo().cores} cores (shared machine: numbers are noisy)\n`);
    console.log(formatTable(['page', 'median ms', 'min ms', 'max ms', 'runs'], [row('cached (2nd+ visit)', warm), row('uncached (fresh profile)', cold)]));
    console.log(`\ncached ${fmtMs(warm.medianMs)} ms vs uncached ${fmtMs(cold.medianMs)} ms: ratio ${ratio.toFixed(2)}x (uncached/cached)`);
    console.log(`target cached ≤ ${TARGET_MS} ms: ${warm.medianMs <= TARGET_MS ? 'met' : 'NOT met'}`);
    const path = writeSummary('first-prediction', { machine: machineInfo(), chromium: browser.version(), targetMs: TARGET_MS, cached: warm, uncached: cold, ratio });
    console.log(`summary: ${path}`);
  } finally {
    await browser.close();
    process.kill(-server.pid!);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
