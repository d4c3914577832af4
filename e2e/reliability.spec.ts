/**
 * Reliability and safety of the built app: it runs under its Content-Security-Policy
 * (meta tag + preview header) on every backend, with no violation anywhere.
 */
import type { ConsoleMessage, Page } from '@playwright/test';
import { expect, LOAD_TIMEOUT, test } from './fixtures';

/** Collects CSP violations of the page (event) and of its workers (Chromium logs those). */
async function watchCsp(page: Page): Promise<() => Promise<string[]>> {
  const logged: string[] = [];
  const onConsole = (message: ConsoleMessage) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) logged.push(`console: ${message.text()}`);
  };
  page.on('console', onConsole);
  page.context().on('console', onConsole);
  await page.addInitScript(() => {
    const w = window as unknown as { __cspViolations: string[] };
    w.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__cspViolations.push(`${e.effectiveDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`));
  });
  return async () => [...logged, ...(await page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations))];
}

test('the built app runs under its Content-Security-Policy with no violations', async ({ openLab, page }, testInfo) => {
  test.skip(process.env.E2E_SERVER === 'dev', 'the dev server has no CSP (hot reload injects inline script)');
  const violations = await watchCsp(page);
  const response = page.waitForResponse((r) => new URL(r.url()).pathname === '/');
  await openLab();

  const header = (await response).headers()['content-security-policy'] ?? '';
  const meta = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  for (const policy of [header, meta ?? '']) {
    expect(policy).toContain("script-src 'self' 'wasm-unsafe-eval' blob:");
    expect(policy).not.toContain('unsafe-inline');
    expect(policy).not.toMatch(/'unsafe-eval'/);
  }
  // The policy is enforced, not just present: eval from page script and inline script are refused.
  // (page.evaluate itself is exempt from CSP, so the probes run as a blob: script and an inline one.)
  const probes = await page.evaluate(async () => {
    const w = window as unknown as { __evalProbe?: string; __inlineRan?: boolean };
    const run = (script: HTMLScriptElement) => new Promise((resolve) => { script.onload = script.onerror = resolve; document.head.append(script); setTimeout(resolve, 200); });
    const evalScript = document.createElement('script');
    evalScript.src = URL.createObjectURL(new Blob(["try { eval('1'); window.__evalProbe = 'ran'; } catch (e) { window.__evalProbe = e.name; }"], { type: 'text/javascript' }));
    await run(evalScript);
    const inline = document.createElement('script');
    inline.textContent = 'window.__inlineRan = true';
    await run(inline);
    return { evalProbe: w.__evalProbe, inlineRan: w.__inlineRan === true };
  });
  expect(probes).toEqual({ evalProbe: 'EvalError', inlineRan: false });

  // The knowledge-neuron workflow draws its map with D3 (styles set from script): no violation either.
  if (testInfo.project.name === 'wasm') {
    await page.getByTestId('fact-search').fill('France');
    await page.locator('[data-fact-id="capital_of/france"]').click();
    await page.getByTestId('kn-settings').locator('summary').click();
    await page.getByTestId('kn-steps').fill('4');
    await page.getByTestId('find-neurons').click();
    await expect(page.getByTestId('kn-status')).toHaveAttribute('data-state', 'done', { timeout: LOAD_TIMEOUT });
    await expect(page.getByTestId('neuron-map')).toBeVisible();
  }

  // The two probes above are the only violations allowed.
  const seen = await violations();
  expect(seen.filter((v) => /script-src/.test(v)).length, 'the probes were reported').toBeGreaterThan(0);
  const unexpected = seen.filter((v) => !/script-src/.test(v) || !/(eval|inline)/.test(v));
  expect(unexpected).toEqual([]);
});

/** The engine's own worker (not the wasm backend's blob: thread workers). */
function engineWorker(page: Page) {
  const worker = page.workers().find((w) => !w.url().startsWith('blob:'));
  if (!worker) throw new Error('no engine worker found');
  return worker;
}

test('a crashed worker is restarted, the model reloaded and the page keeps its state', async ({ openLab, page }, testInfo) => {
  test.skip(testInfo.project.name !== 'wasm', 'worker recovery does not depend on the backend');
  await openLab();
  await page.getByTestId('prompt-input').fill('The capital of Spain is');
  await expect(page.getByTestId('top-token-row').first()).toBeVisible();

  await engineWorker(page).evaluate(() => setTimeout(() => { throw new Error('simulated crash'); }, 0));

  await expect(page.getByTestId('backend-notice')).toContainText('restarted');
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('prompt-input')).toHaveValue('The capital of Spain is');
  await expect(page.getByTestId('top-token-row').first()).toBeVisible({ timeout: LOAD_TIMEOUT });
});

test('a lost WebGPU device falls back to WebAssembly and says so', async ({ openLab, page }, testInfo) => {
  test.skip(testInfo.project.name !== 'webgpu', 'needs the WebGPU backend');
  await openLab();
  test.skip((await page.getByTestId('backend-name').textContent()) !== 'webgpu', 'WebGPU is not the running backend here');

  // The next command encoder the engine asks for destroys its device instead: what a driver reset looks like to the page.
  await engineWorker(page).evaluate(() => {
    const proto = (globalThis as unknown as { GPUDevice: { prototype: { createCommandEncoder(...a: unknown[]): unknown; destroy(): void } } }).GPUDevice.prototype;
    const original = proto.createCommandEncoder;
    proto.createCommandEncoder = function (this: { destroy(): void }, ...args: unknown[]) {
      proto.createCommandEncoder = original;
      this.destroy();
      return original.apply(this, args);
    };
  });
  await page.getByTestId('prompt-input').fill('The capital of Italy is');

  await expect(page.getByTestId('backend-notice')).toContainText('WebGPU backend stopped working', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('backend-name')).toHaveText('wasm', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('prompt-input')).toHaveValue('The capital of Italy is');
  await expect(page.getByTestId('top-token-row').first()).toBeVisible({ timeout: LOAD_TIMEOUT });
});

test('running out of GPU memory falls back to WebAssembly and says so', async ({ openLab, page }, testInfo) => {
  test.skip(testInfo.project.name !== 'webgpu', 'needs the WebGPU backend');
  await openLab();
  test.skip((await page.getByTestId('backend-name').textContent()) !== 'webgpu', 'WebGPU is not the running backend here');

  // Every new GPU buffer fails the way an exhausted GPU reports it.
  await engineWorker(page).evaluate(() => {
    const proto = (globalThis as unknown as { GPUDevice: { prototype: { createBuffer(...a: unknown[]): unknown } } }).GPUDevice.prototype;
    proto.createBuffer = () => {
      throw new RangeError('Out of memory: could not allocate the buffer');
    };
  });
  await page.getByTestId('prompt-input').fill('The capital of Norway is');

  await expect(page.getByTestId('backend-notice')).toContainText('ran out of memory', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('backend-name')).toHaveText('wasm', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('top-token-row').first()).toBeVisible({ timeout: LOAD_TIMEOUT });
});
