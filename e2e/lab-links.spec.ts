/**
 * Permalinks, saved analyses, embeds and chart exports, acting as a user on the default
 * model (wasm): a link opened in a fresh browser gives the same view and numbers; a saved
 * analysis re-opens and checks itself; broken links explain themselves; remote models ask
 * first. Also measures main-thread long tasks during a knowledge-neuron search (reported,
 * not asserted: timings on a shared 2-core machine are noise).
 */
import { readFileSync } from 'node:fs';
import type { Page, TestInfo } from '@playwright/test';
import { encodeLink, type LabLink } from '../src/app/permalink';
import { expect, LOAD_TIMEOUT, test } from './fixtures';

test.beforeEach(({}, testInfo) => {
  test.skip(testInfo.project.name !== 'wasm', 'links are backend-independent: run once, on WebAssembly');
});

/** Records the durations of main-thread long tasks (> 50 ms) from page start. */
async function watchLongTasks(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { __longTasks: number[] };
    w.__longTasks = [];
    new PerformanceObserver((list) => list.getEntries().forEach((e) => w.__longTasks.push(e.duration))).observe({ type: 'longtask', buffered: true });
  });
}
const longTasks = (page: Page) => page.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks.slice());

async function shot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  await testInfo.attach(name, { body: await page.screenshot({ fullPage: false }), contentType: 'image/png' });
}

async function findNeurons(page: Page): Promise<void> {
  await page.getByTestId('kn-settings').locator('summary').click();
  await page.getByTestId('kn-steps').fill('4');
  await page.getByTestId('find-neurons').click();
  await expect(page.getByTestId('kn-status')).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
}

/** The numbers a reader of the page sees: neurons, selection, factor, before/after bars (under the edits). */
async function snapshot(page: Page) {
  await expect(page.locator('[data-testid="ba-row"]').first()).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId('before-after')).toHaveAttribute('aria-busy', 'false');
  return {
    prompt: await page.getByTestId('prompt-input').inputValue(),
    count: Number(await page.getByTestId('neuron-count').getAttribute('data-count')),
    chips: await page.getByTestId('neuron-chip').allTextContents(),
    selected: await page.getByTestId('inspector-neuron').getAttribute('data-neuron'),
    scale: await page.getByTestId('scale-value').textContent(),
    bars: await page.getByTestId('ba-row').evaluateAll((els) => els.map((e) => [Number(e.getAttribute('data-before')), Number(e.getAttribute('data-after'))])),
  };
}

function expectSameNumbers(a: Awaited<ReturnType<typeof snapshot>>, b: Awaited<ReturnType<typeof snapshot>>): void {
  expect(b.prompt).toBe(a.prompt);
  expect(b.count).toBe(a.count);
  expect(b.chips).toEqual(a.chips);
  expect(b.selected).toBe(a.selected);
  expect(b.scale).toBe(a.scale);
  expect(b.bars.length).toBe(a.bars.length);
  b.bars.flat().forEach((v, i) => expect(v).toBeCloseTo(a.bars.flat()[i], 6));
}

test('a permalink opened in a fresh browser restores the same view and numbers; charts export', async ({ openLab, page, browser }, testInfo) => {
  test.setTimeout(150_000);
  await watchLongTasks(page);
  await page.setViewportSize({ width: 1280, height: 800 });
  await openLab();
  await expect(page.getByTestId('fact-option').first()).toBeVisible({ timeout: LOAD_TIMEOUT });

  const before = (await longTasks(page)).length;
  await findNeurons(page);
  const during = (await longTasks(page)).slice(before);
  console.log(`long tasks on the main thread during the search: ${during.length}, max ${during.length ? Math.max(...during).toFixed(0) : 0} ms`);
  await testInfo.attach('long-tasks-during-search.json', {
    body: JSON.stringify({ count: during.length, maxMs: during.length ? Math.max(...during) : 0, durationsMs: during }, null, 2),
    contentType: 'application/json',
  });

  // A state worth sharing: the second knowledge neuron selected (or the first), scaled × 0.5.
  const chips = page.getByTestId('neuron-chip');
  await chips.nth(Math.min(1, (await chips.count()) - 1)).click();
  const slider = page.getByTestId('scale-slider');
  await slider.focus();
  for (let i = 0; i < 10; i++) await slider.press('ArrowRight');
  await expect(page.getByTestId('scale-value')).toHaveText('0.50');
  // …and one weight edit (the fact moved to Lyon).
  const filter = page.getByTestId('update-relation-filter');
  if (await filter.isChecked()) await filter.uncheck(); // edits through the neurons as they are (the filter is tested in knowledge.spec)
  await page.getByTestId('new-object-input').fill(' Lyon');
  await page.getByTestId('apply-update').click();
  await expect(page.getByTestId('before-after')).toHaveAttribute('data-edits', '1', { timeout: 30_000 });
  const original = await snapshot(page);
  await shot(page, testInfo, 'lab-1280x800.png');

  // Every chart exports: the top-token table twin sorts and its CSV holds the rows.
  const tokens = page.getByTestId('top-tokens-frame');
  await tokens.getByTestId('table-twin').locator('summary').click();
  await tokens.getByTestId('twin-sort-probability').click();
  await tokens.getByTestId('twin-sort-probability').press('Enter');
  const probs = await tokens.getByTestId('twin-row').evaluateAll((rows) => rows.map((r) => Number(r.children[3].textContent)));
  expect(probs).toEqual([...probs].sort((x, y) => x - y));
  const csv = await download(page, () => tokens.getByTestId('export-csv').click());
  expect(csv.split('\r\n')[0]).toBe('rank,token,id,probability');
  expect(csv.trim().split('\r\n')).toHaveLength(11);
  const svg = await download(page, () => page.getByTestId('before-after-frame').getByTestId('export-svg').click());
  expect(svg).toMatch(/^<svg xmlns='http:\/\/www.w3.org\/2000\/svg'/);
  expect(svg).toContain('The capital of France is');
  const mapSvg = await download(page, () => page.getByTestId('neuron-map-chart').getByTestId('export-svg').click());
  expect(mapSvg).toContain("href='data:image/png;base64,");
  for (const frame of ['neuron-map-chart', 'before-after-frame']) {
    const png = await downloadBytes(page, () => page.getByTestId(frame).getByTestId('export-png').click());
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    await testInfo.attach(`${frame}.png`, { body: png, contentType: 'image/png' });
  }
  const pairs = JSON.parse(await download(page, () => page.getByTestId('export-neurons-json').click())) as number[][];
  expect(pairs).toHaveLength(original.count);
  expect(pairs.map(([l, i]) => `[${l}, ${i}]`)).toEqual(original.chips.map((c) => /\[\d+, \d+\]/.exec(c)![0]));
  await expect(page.locator('[data-testid="export-error"]')).toHaveCount(0);

  // Share a link that opens at the before/after view.
  await page.getByTestId('share-view').selectOption('before-after');
  await page.getByTestId('copy-link').click();
  const link = await page.getByTestId('share-url').inputValue();
  expect(link).toMatch(/#v1\.[A-Za-z0-9_-]+$/);

  // A fresh browser context (no storage) opens it, recomputes and shows the same numbers.
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const fresh = await context.newPage();
  await fresh.goto(link.replace('/#', '/?backend=wasm#'));
  await expect(fresh.getByTestId('link-restoring')).toHaveCount(0, { timeout: 90_000 });
  await expect(fresh.locator('[data-testid="error-message"]')).toHaveCount(0);
  await expect(fresh.getByTestId('edit-row')).toHaveCount(1);
  await expect(fresh.getByTestId('before-after')).toHaveAttribute('data-edits', '1', { timeout: 30_000 });
  expectSameNumbers(original, await snapshot(fresh));
  await expect(fresh.getByTestId('before-after')).toBeInViewport();
  await shot(fresh, testInfo, 'permalink-restored.png');

  // The same link as an embed: one view, no lab chrome.
  await page.getByTestId('copy-embed').click();
  const snippet = await page.getByTestId('share-url').inputValue();
  const embedUrl = /src="([^"]+)"/.exec(snippet)![1].replace(/&quot;/g, '"');
  await fresh.setViewportSize({ width: 390, height: 700 });
  await fresh.goto(embedUrl.replace('/?embed=1#', '/?embed=1&backend=wasm#'));
  await expect(fresh.getByTestId('embed')).toHaveAttribute('data-view', 'before-after');
  await expect(fresh.locator('[data-testid="ba-row"]').first()).toBeVisible({ timeout: 90_000 });
  await expect(fresh.locator('.masthead')).toHaveCount(0);
  await expect(fresh.getByTestId('kn-panel')).toHaveCount(0);
  await shot(fresh, testInfo, 'embed-before-after-390.png');
  await context.close();
});

test('a saved analysis re-opens, recomputes and checks itself; broken links and files explain themselves', async ({ openLab, page }, testInfo) => {
  test.setTimeout(120_000);
  await openLab();
  await expect(page.getByTestId('fact-option').first()).toBeVisible({ timeout: LOAD_TIMEOUT });
  await findNeurons(page);
  const original = await snapshot(page);
  const saved = await download(page, () => page.getByTestId('save-analysis').click());
  const analysis = JSON.parse(saved) as { factlab: string; state: LabLink; knowledgeNeurons: number[][] };
  expect(analysis.factlab).toBe('analysis');
  expect(analysis.knowledgeNeurons).toHaveLength(original.count);

  // Change the fact, then re-import the file: the analysis comes back and verifies.
  await page.getByTestId('fact-search').fill('Germany');
  await page.locator('[data-fact-id="capital_of/germany"]').click();
  await expect(page.getByTestId('prompt-input')).toHaveValue(/Germany/);
  const input = page.getByTestId('open-analysis-input');
  await input.setInputFiles({ name: 'analysis.json', mimeType: 'application/json', buffer: Buffer.from(saved) });
  await expect(page.getByTestId('analysis-verified')).toHaveAttribute('data-matches', 'true', { timeout: 60_000 });
  expectSameNumbers(original, await snapshot(page));

  await input.setInputFiles({ name: 'not-mine.json', mimeType: 'application/json', buffer: Buffer.from('{"hello": 1}') });
  await expect(page.locator('[data-testid="error-message"][data-where="link"]')).toContainText('not a factlab analysis');

  // A damaged link: a clear message, and the lab still works on the default model.
  await page.goto('/?backend=wasm#v1.this-is-not-a-link');
  await expect(page.locator('[data-testid="error-message"][data-where="link"]')).toContainText('damaged');
  await expect(page.getByTestId('top-token-row').first()).toBeVisible({ timeout: LOAD_TIMEOUT });
  await shot(page, testInfo, 'malformed-link.png');
  await page.goto(`/?backend=wasm#v1.${'A'.repeat(70_000)}`);
  await expect(page.locator('[data-testid="error-message"][data-where="link"]')).toContainText('at most');

  // A link to a Hub model asks first and downloads nothing when declined.
  const remote = (await page.evaluate(() => window.location.href)).replace(/#.*$/, '');
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  const state = { ...analysis.state, model: 'hub:openai-community/gpt2@607a30d783dfa663caf39e06633721c8d4cfcd7e' } as LabLink;
  await page.goto(`${remote}#${encodeLink(state)}`);
  await expect(page.getByTestId('remote-confirm')).toContainText('openai-community/gpt2');
  await shot(page, testInfo, 'remote-model-confirm.png');
  await page.getByTestId('remote-decline').click();
  await expect(page.getByTestId('remote-confirm')).toHaveCount(0);
  expect(requests.filter((u) => u.includes('huggingface'))).toEqual([]);
});

test('the guided lesson walks through finding, switching off and checking the Paris neurons', async ({ openLab, page, labQuery }, testInfo) => {
  test.setTimeout(120_000);
  await openLab();
  await page.goto(`/${labQuery}&lesson=1`);
  const lesson = page.getByTestId('lesson');
  const next = page.getByTestId('lesson-next');
  await expect(lesson).toHaveAttribute('data-step', '0');
  await expect(next).toBeDisabled();
  // Every step is done with its button and then unlocks "Next".
  for (const step of [0, 1, 2, 3]) {
    await page.getByTestId('lesson-do').click();
    await expect(next).toBeEnabled({ timeout: 60_000 });
    if (step === 1) await expect(page.getByTestId('lesson-text')).toContainText(/Found \d+, in layer/);
    if (step === 3) await expect(page.getByTestId('lesson-text')).toContainText(/P\(Paris\) changes by -/);
    await next.click();
  }
  await expect(lesson).toHaveAttribute('data-step', '4');
  await expect(page.getByTestId('lesson-text')).toContainText(/Their probabilities change by/);
  await shot(page, testInfo, 'lesson-last-step.png');
  // Phone width: everything reflows into one column, nothing scrolls sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await shot(page, testInfo, 'lesson-390.png');
});

test.describe('offline', () => {
  test.use({ serviceWorkers: 'allow' });

  test('after the first visit the lab and the default model open offline', async ({ openLab, page, context, labQuery }, testInfo) => {
    test.skip(process.env.E2E_SERVER === 'dev', 'the service worker is registered by production builds only');
    test.setTimeout(120_000);
    await openLab();
    // Wait until the service worker controls the page and has precached the default model.
    await expect
      .poll(() => page.evaluate(async () => !!navigator.serviceWorker.controller && (await caches.keys()).some((k) => k.startsWith('factlab-precache-'))), { timeout: 60_000 })
      .toBe(true);
    const cached = await page.evaluate(async () => {
      const key = (await caches.keys()).find((k) => k.startsWith('factlab-precache-'))!;
      return (await (await caches.open(key)).keys()).map((r) => new URL(r.url).pathname);
    });
    expect(cached).toContain('/models/default/model.safetensors');
    expect(cached).toContain('/index.html');

    await context.setOffline(true);
    await page.goto(`/${labQuery}`);
    await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready', { timeout: LOAD_TIMEOUT });
    await expect(page.getByTestId('top-token-row').first()).toBeVisible({ timeout: LOAD_TIMEOUT });
    await expect(page.getByTestId('fact-option').first()).toBeVisible();
    await shot(page, testInfo, 'offline.png');
    await context.setOffline(false);
  });
});

async function download(page: Page, click: () => Promise<void>): Promise<string> {
  return (await downloadBytes(page, click)).toString('utf8');
}

async function downloadBytes(page: Page, click: () => Promise<void>): Promise<Buffer> {
  const event = page.waitForEvent('download');
  await click();
  return readFileSync((await (await event).path())!);
}
