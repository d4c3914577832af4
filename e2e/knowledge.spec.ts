/**
 * The knowledge-neuron workflow from the page: pick a fact from the library, find its
 * neurons, read the map, refine live with t, inspect a neuron, watch before/after, edit the
 * fact and revert. On the random placeholder model the neuron set may be empty or
 * meaningless, so the stronger assertions run only on the trained default model.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import { decodeLink } from '../src/app/permalink';
import { expect, LOAD_TIMEOUT, test } from './fixtures';

const CONFIG = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', 'public', 'models', 'default', 'config.json'), 'utf8')) as { factlab_note?: string };
/** The placeholder checkpoint says so in its config; the trained one knows its facts. */
const TRAINED = !/RANDOM/i.test(CONFIG.factlab_note ?? '');

test.beforeEach(({}, testInfo) => {
  test.skip(testInfo.project.name !== 'wasm', 'the knowledge-neuron workflow runs once, on WebAssembly');
});

/** Counts the engine calls the page posts to its worker, by method. */
async function countEngineCalls(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { __engineCalls: string[] };
    w.__engineCalls = [];
    const post = Worker.prototype.postMessage;
    Worker.prototype.postMessage = function (this: Worker, message: unknown, ...rest: unknown[]) {
      const m = message as { kind?: string; method?: string } | null;
      if (m && m.kind === 'call' && m.method) w.__engineCalls.push(m.method);
      return (post as (...a: unknown[]) => void).call(this, message, ...rest);
    } as typeof Worker.prototype.postMessage;
  });
}

const calls = (page: Page, method: string) => page.evaluate((m) => (window as unknown as { __engineCalls: string[] }).__engineCalls.filter((c) => c === m).length, method);
const count = async (page: Page) => Number(await page.getByTestId('neuron-count').getAttribute('data-count'));
const rows = (page: Page, kind: 'own' | 'control') =>
  page.locator(`[data-testid="ba-row"][data-kind="${kind}"]`).evaluateAll((els) => els.map((e) => ({ before: Number(e.getAttribute('data-before')), after: Number(e.getAttribute('data-after')) })));

test('find, inspect, suppress, edit and revert the knowledge neurons of a library fact', async ({ openLab, page }) => {
  test.setTimeout(90_000);
  await countEngineCalls(page);
  await openLab();

  // The library: search as you type, choose a fact, get all its paraphrases.
  await page.getByTestId('fact-search').fill('France');
  await expect(page.locator('[data-fact-id="capital_of/france"]')).toBeVisible({ timeout: LOAD_TIMEOUT });
  await page.locator('[data-fact-id="capital_of/france"]').click();
  await expect(page.getByTestId('prompt-input')).toHaveValue('The capital of France is');
  await expect(page.getByTestId('target-input')).toHaveValue(' Paris');
  const paraphrases = page.getByTestId('paraphrase-input');
  const n = await paraphrases.count();
  expect(n).toBeGreaterThanOrEqual(2);
  // Prompts are editable: add one, then remove it again.
  await page.getByTestId('add-prompt').click();
  await expect(paraphrases).toHaveCount(n + 1);
  await paraphrases.nth(n).fill('Paris is the capital of France, and the capital of France is');
  await page.getByTestId('remove-prompt').nth(n).click();
  await expect(paraphrases).toHaveCount(n);

  // A worker error (this prompt is longer than the model's context) shows next to the button that caused it.
  await page.getByTestId('prompt-input').fill(`${'France '.repeat(1100)}is`);
  await page.getByTestId('find-neurons').click();
  const searchAlert = page.locator('[data-testid="error-message"][data-where="kn-search"]');
  await expect(searchAlert).toBeVisible();
  await expect(searchAlert).toHaveAttribute('role', 'alert');
  await expect(searchAlert).toContainText(/tokens/);
  await page.getByTestId('prompt-input').fill('The capital of France is');

  // A quick search: m = 4.
  await page.getByTestId('kn-settings').locator('summary').click();
  await page.getByTestId('kn-steps').fill('4');
  await page.getByTestId('find-neurons').click();
  await expect(searchAlert).toHaveCount(0);
  await expect(page.getByTestId('kn-status')).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  await expect(page.getByTestId('kn-progress')).toHaveCount(0);

  // The map rendered, with one row per layer.
  const map = page.getByTestId('neuron-map');
  await expect(map).toBeVisible();
  expect(Number(await map.getAttribute('data-rendered'))).toBeGreaterThan(0);
  expect(Number(await map.getAttribute('data-layers'))).toBeGreaterThan(0);
  const found = await count(page);
  if (TRAINED) expect(found).toBeGreaterThanOrEqual(1);
  await expect(page.getByTestId('neuron-chip')).toHaveCount(Math.min(found, 200));

  // Before/after shows numbers for the fact's prompts and for control facts.
  await expect(page.locator('[data-testid="ba-row"][data-kind="own"]')).toHaveCount(n + 1, { timeout: 30_000 });
  await expect(page.locator('[data-testid="ba-row"][data-kind="control"]').first()).toBeVisible();
  await expect(page.getByTestId('own-change')).not.toHaveAttribute('data-value', '');
  for (const r of await rows(page, 'own')) {
    expect(r.before).toBeGreaterThan(0);
    expect(r.before).toBeLessThanOrEqual(1);
    expect(r.after).toBeGreaterThanOrEqual(0);
  }
  if (TRAINED) {
    // Suppressing the knowledge neurons (× 0, the default) lowers the fact's probability.
    const own = await rows(page, 'own');
    const mean = (k: 'before' | 'after') => own.reduce((a, r) => a + r[k], 0) / own.length;
    expect(mean('after')).toBeLessThan(mean('before'));
    expect(Number(await page.getByTestId('own-change').getAttribute('data-value'))).toBeLessThan(0);
  }

  // t re-refines in the page: the count follows the slider and no new search reaches the worker.
  const searches = await calls(page, 'factNeurons');
  const t = page.getByTestId('t-slider');
  await t.focus();
  await t.press('Home');
  await expect(page.getByTestId('t-value')).toHaveText('0.00');
  const loose = await count(page);
  await t.press('End');
  await expect(page.getByTestId('t-value')).toHaveText('1.00');
  const strict = await count(page);
  expect(loose).toBeGreaterThan(strict);
  expect(await calls(page, 'factNeurons')).toBe(searches);
  await page.getByTestId('kn-preset').selectOption('project');
  await expect(page.getByTestId('t-value')).toHaveText('0.20');
  await expect(page.getByTestId('neuron-count')).toHaveAttribute('data-count', String(found));

  // Select a neuron on the map, move it with the keyboard, inspect it.
  const canvas = page.getByTestId('neuron-map-canvas');
  const box = (await canvas.boundingBox())!;
  await canvas.hover({ position: { x: box.width * 0.4, y: 4 } });
  await expect(page.getByTestId('map-tooltip')).toContainText('coarse in');
  await canvas.click({ position: { x: box.width * 0.4, y: 4 } });
  const inspected = page.getByTestId('inspector-neuron');
  const picked = (await inspected.getAttribute('data-neuron'))!;
  const [layer, index] = picked.split(':').map(Number);
  await page.getByTestId('neuron-map-frame').focus();
  await page.keyboard.press('ArrowRight');
  await expect(inspected).toHaveAttribute('data-neuron', `${layer}:${index + 1}`);
  await expect(page.getByTestId('promotes').locator('li').first()).toBeVisible();

  // Edit the fact through the neurons (all knowledge neurons, or the selected one when there are none), then revert.
  if (found === 0) await page.getByTestId('scope-selected').check();
  const firstBefore = (await rows(page, 'own'))[0].before;
  const filter = page.getByTestId('update-relation-filter');
  if (await filter.isChecked()) await filter.uncheck(); // the relation filter is checked on its own below
  await page.getByTestId('new-object-input').fill(' Lyon');
  await page.getByTestId('apply-update').click();
  await expect(page.getByTestId('edit-row')).toHaveCount(1);
  await expect(page.locator('[data-testid="error-message"][data-where="edit"]')).toHaveCount(0);
  // Before/after is recomputed under the edited weights.
  await expect.poll(async () => (await rows(page, 'own'))[0].before, { timeout: 30_000 }).not.toBe(firstBefore);
  await page.getByTestId('erase-neurons').click();
  await expect(page.getByTestId('edit-row')).toHaveCount(2);
  await page.getByTestId('revert-edit').first().click();
  await expect(page.getByTestId('edit-row')).toHaveCount(1);
  await page.getByTestId('revert-all').click();
  await expect(page.getByTestId('no-edits')).toBeVisible();
  // Reverting restores the original slots exactly.
  await expect.poll(async () => Math.abs((await rows(page, 'own'))[0].before - firstBefore) / firstBefore, { timeout: 30_000 }).toBeLessThan(1e-6);
  await expect(page.locator('[data-testid="error-message"]')).toHaveCount(0);

  // The paper's update filter: only neurons in ≤ 10% of the relation's facts are edited. It finds
  // the neurons of 20 facts of the relation first, then edits what is left (or says nothing is).
  if (found > 0) {
    await filter.check();
    await page.getByTestId('apply-update').click();
    await expect(page.getByTestId('filter-note')).toContainText(/kept \d+ of \d+ neurons \(neurons of 20 facts/, { timeout: 120_000 });
    const kept = Number(/kept (\d+) of/.exec((await page.getByTestId('filter-note').textContent())!)![1]);
    if (kept > 0) await expect(page.getByTestId('edit-row')).toHaveCount(1);
    else await expect(page.locator('[data-testid="error-message"][data-where="edit"]')).toContainText('no neurons to edit');
  }

  // Integrated gradients from AMIG's baseline (the DKN code's attribution): a search setting the link keeps.
  await page.getByTestId('kn-baseline').selectOption('amig');
  await expect(page.getByText(/IG, m = \d+, right, AMIG baseline/)).toBeVisible();
  await page.getByTestId('find-neurons').click();
  await expect(page.getByTestId('kn-status')).toHaveAttribute('data-state', 'done', { timeout: 60_000 });
  await expect(page.locator('[data-testid="error-message"][data-where="kn-search"]')).toHaveCount(0);
  await page.getByTestId('copy-link').click();
  const link = await page.getByTestId('share-url').inputValue();
  expect(decodeLink(new URL(link).hash).settings.baseline).toBe('amig');
});

test('facts import and export as JSON and CSV, with clear errors', async ({ openLab, page }) => {
  await openLab();
  await expect(page.getByTestId('fact-option').first()).toBeVisible({ timeout: LOAD_TIMEOUT });
  const input = page.getByTestId('facts-file-input');

  await input.setInputFiles({ name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from('name,capital\nItaly,Rome\n') });
  const alert = page.locator('[data-testid="error-message"][data-where="facts-io"]');
  await expect(alert).toBeVisible();
  await expect(alert).toContainText(/subject, relation and object/);

  const csv = 'subject,relation,object,prompts\nItaly,capital_of,Rome,The capital of Italy is | The capital city of Italy is\n';
  await input.setInputFiles({ name: 'italy.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
  await expect(alert).toHaveCount(0);
  await expect(page.getByTestId('prompt-input')).toHaveValue('The capital of Italy is');
  await expect(page.getByTestId('target-input')).toHaveValue(' Rome');
  await expect(page.getByTestId('paraphrase-input')).toHaveValue('The capital city of Italy is');

  const download = page.waitForEvent('download');
  await page.getByTestId('export-fact-json').click();
  const file = await download;
  const text = readFileSync((await file.path())!, 'utf8');
  expect(JSON.parse(text)).toEqual([{ id: 'capital_of/italy', subject: 'Italy', relation: 'capital_of', object: 'Rome', prompts: ['The capital of Italy is', 'The capital city of Italy is'] }]);

  await page.getByTestId('default-library').click();
  await page.getByTestId('fact-search').fill('zzzz-no-such-fact');
  await expect(page.getByTestId('library-count')).toHaveText('No fact matches.');
});
