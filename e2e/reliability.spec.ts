/**
 * Reliability and safety of the built app: it runs under its Content-Security-Policy
 * (meta tag + preview header) on every backend, with no violation anywhere.
 */
import type { ConsoleMessage, Page } from '@playwright/test';
import { expect, test } from './fixtures';

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

test('the built app runs under its Content-Security-Policy with no violations', async ({ openLab, page }) => {
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

  // The two probes above are the only violations allowed.
  const seen = await violations();
  expect(seen.filter((v) => /script-src/.test(v)).length, 'the probes were reported').toBeGreaterThan(0);
  const unexpected = seen.filter((v) => !/script-src/.test(v) || !/(eval|inline)/.test(v));
  expect(unexpected).toEqual([]);
});
