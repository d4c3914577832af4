/**
 * The masked setting of the knowledge-neurons paper from the page: switch to the embedded
 * BERT, ask a library fact as a cloze prompt, find its neurons at [MASK], suppress them and
 * watch the probability fall; the GPT-2-only views say why they are off; a bad prompt gets
 * a clear message; a link restores the BERT analysis.
 */
import type { Page } from '@playwright/test';
import { expect, LOAD_TIMEOUT, test } from './fixtures';

test.beforeEach(({}, testInfo) => {
  test.skip(testInfo.project.name !== 'wasm', 'the BERT workflow runs once, on WebAssembly');
});

const modelInfo = (page: Page) => page.getByTestId('model-info');

test('find and suppress the knowledge neurons of a fact at [MASK] on the default BERT', async ({ openLab, page }, testInfo) => {
  test.setTimeout(180_000);
  await openLab();
  await page.getByTestId('load-default-bert').click();
  await expect(modelInfo(page)).toContainText('BERT', { timeout: LOAD_TIMEOUT });
  await expect(modelInfo(page)).toContainText('default-bert');

  // The current fact is asked again in the masked form.
  await expect(page.getByTestId('prompt-input')).toHaveValue(/\[MASK\]/);
  await page.getByTestId('fact-search').fill('France');
  await page.locator('[data-fact-id="capital_of/france"]').click();
  await expect(page.getByTestId('prompt-input')).toHaveValue('The capital of France is [MASK].');
  await expect(page.getByTestId('target-input')).toHaveValue('Paris');
  await expect(page.getByTestId('top-tokens')).toContainText('Paris', { timeout: 30_000 });
  await expect(page.getByTestId('top-tokens').locator('caption')).toHaveText('Most likely words at [MASK]');
  const p = Number(await page.getByTestId('target-prob').getAttribute('data-prob'));
  expect(p).toBeGreaterThan(0.5);

  // A prompt without [MASK] gets a specific message, not a crash.
  await page.getByTestId('prompt-input').fill('The capital of France is Paris.');
  await expect(page.locator('[data-testid="error-message"]').first()).toContainText('[MASK]', { timeout: 30_000 });
  await page.getByTestId('prompt-input').fill('The capital of France is [MASK].');
  await expect(page.getByTestId('target-prob')).toBeVisible({ timeout: 30_000 });

  // Knowledge neurons at [MASK], then suppress them: the fact's probability falls.
  await page.getByTestId('kn-settings').locator('summary').click();
  await page.getByTestId('kn-steps').fill('8');
  await page.getByTestId('find-neurons').click();
  await expect(page.getByTestId('kn-status')).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(page.getByTestId('neuron-map')).toBeVisible();
  const found = Number(await page.getByTestId('neuron-count').getAttribute('data-count'));
  expect(found).toBeGreaterThan(0);
  await expect(page.locator('[data-testid="ba-row"][data-kind="own"]').first()).toBeVisible({ timeout: 30_000 });
  await expect.poll(async () => Number(await page.getByTestId('own-change').getAttribute('data-value')), { timeout: 30_000 }).toBeLessThan(0);
  await testInfo.attach('bert-knowledge-neurons', { body: await page.screenshot({ fullPage: true }), contentType: 'image/png' });

  // The GPT-2-only views say why, instead of failing.
  await expect(page.getByTestId('gpt2-only-degeneracy')).toContainText('GPT-2 checkpoints only');
  await expect(page.getByTestId('gpt2-only-subnetwork')).toContainText('GPT-2 checkpoints only');

  // The address holds the BERT analysis: a fresh page loads the BERT and recomputes.
  await expect.poll(() => page.url(), { timeout: 10_000 }).toMatch(/#v1\./);
  const reader = await page.context().newPage();
  await reader.goto(page.url());
  await expect(reader.getByTestId('model-info')).toContainText('default-bert', { timeout: LOAD_TIMEOUT });
  await expect(reader.getByTestId('prompt-input')).toHaveValue('The capital of France is [MASK].');
  await expect(reader.getByTestId('kn-status')).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(reader.getByTestId('neuron-count')).toHaveAttribute('data-count', String(found));

  // Back to GPT-2: the fact is asked as a continuation again.
  await page.getByTestId('load-default').click();
  await expect(modelInfo(page)).toContainText('GPT2', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('prompt-input')).toHaveValue('The capital of France is');
  await expect(page.getByTestId('target-input')).toHaveValue(' Paris');
});
