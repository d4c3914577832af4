/**
 * End-to-end tests of the lab in a real Chromium.
 *
 * The app is built once and served by `vite preview` (same COOP/COEP headers as the dev
 * server, no dependency re-optimisation mid-test). `E2E_SERVER=dev` tests against the dev
 * server instead (what `npm start` runs).
 *
 * Browser: Debian's /usr/bin/chromium when present (its SwiftShader gives WebGPU without a
 * GPU), else Playwright's managed Chromium. Two projects: `webgpu` (automatic backend
 * choice, which is WebGPU there) and `wasm` (the page opened with ?backend=wasm).
 */
import { existsSync } from 'node:fs';
import { defineConfig } from '@playwright/test';
import type { LabOptions } from './e2e/fixtures';

const PORT = Number(process.env.E2E_PORT ?? 5179);
const SYSTEM_CHROMIUM = '/usr/bin/chromium';
const hasSystemChromium = existsSync(SYSTEM_CHROMIUM);
const useDevServer = process.env.E2E_SERVER === 'dev';
const outDir = '.cache/e2e-dist';

const serverCommand = useDevServer
  ? `npx vite --host 127.0.0.1 --port ${PORT} --strictPort`
  : `npx vite build --outDir ${outDir} --emptyOutDir --logLevel warn && npx vite preview --outDir ${outDir} --host 127.0.0.1 --port ${PORT} --strictPort`;

export default defineConfig<LabOptions>({
  testDir: 'e2e',
  outputDir: 'test-results',
  // The software GPU is CPU-bound: parallel browsers on a 2-core machine only slow each other down.
  workers: process.env.CI ? 1 : 2,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: process.env.CI ? 1 : 0,
  timeout: 90_000,
  expect: { timeout: 30_000 },
  globalTimeout: 15 * 60_000,
  // CI keeps playwright-report/ (HTML, with every screenshot the tests attach) and
  // test-results/ (failure screenshots and traces) as artifacts.
  reporter: process.env.CI ? [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]] : 'list',
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    viewport: { width: 1100, height: 900 },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    // The production build's offline service worker would precache ~10 MB in every test;
    // only the offline test (e2e/lab-links.spec.ts) lets it run.
    serviceWorkers: 'block',
    launchOptions: {
      ...(hasSystemChromium ? { executablePath: SYSTEM_CHROMIUM } : {}),
      args: [
        '--headless=new',
        '--no-sandbox',
        '--enable-unsafe-webgpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  projects: [
    {
      name: 'webgpu',
      // Debian's Chromium runs WebGPU on SwiftShader; elsewhere the automatic choice may differ.
      use: { labQuery: '', expectedBackend: hasSystemChromium ? 'webgpu' : undefined },
    },
    {
      name: 'wasm',
      use: { labQuery: '?backend=wasm', expectedBackend: 'wasm' },
    },
  ],
  webServer: {
    command: serverCommand,
    url: `http://127.0.0.1:${PORT}/`,
    reuseExistingServer: !process.env.CI,
    timeout: 180_000,
    stdout: 'ignore',
    stderr: 'pipe',
  },
});
