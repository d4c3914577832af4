/**
 * The degeneracy view as a user drives it: choose a library fact, search its degenerate
 * knowledge neurons in a chosen layer range and along the released code's AMIG path, read the
 * clusters and the verdict, suppress a cluster and see its before/after probabilities.
 */
import { expect, LOAD_TIMEOUT, test } from './fixtures';

test.beforeEach(({}, testInfo) => {
  test.skip(testInfo.project.name !== 'wasm', 'the degeneracy workflow runs once, on WebAssembly');
});

test('find degenerate neurons of a library fact and suppress a cluster', async ({ openLab, page }, testInfo) => {
  test.setTimeout(180_000);
  await openLab();
  await page.getByTestId('fact-search').fill('Afghanistan');
  await page.locator('[data-fact-id="capital_of/afghanistan"]').click();
  await expect(page.getByTestId('target-input')).toHaveValue(' Kabul');

  const view = page.getByTestId('degeneracy');
  await view.scrollIntoViewIfNeeded();
  // Layers 1–3: on the 4-layer default model the neurons of all layers sit in layer 0 (README).
  await page.getByTestId('dkn-from').selectOption('1');
  await page.getByTestId('dkn-path').selectOption('amig');
  await page.getByTestId('dkn-run').click();
  const result = page.getByTestId('dkn-result');
  await expect(result).toBeVisible({ timeout: LOAD_TIMEOUT });
  const clusters = Number(await result.getAttribute('data-clusters'));
  expect(clusters).toBeGreaterThanOrEqual(1);
  await expect(page.getByTestId('dkn-cluster')).toHaveCount(clusters);
  await expect(page.getByTestId('dkn-graph').locator('svg circle').first()).toBeVisible();
  await expect(result).toContainText(/degenerate/);
  await expect(result).toContainText(/from the AMIG baseline/);

  await page.getByTestId('dkn-suppress').first().click();
  const table = page.getByTestId('dkn-suppression');
  await expect(table).toBeVisible({ timeout: 30_000 });
  await expect(table.locator('tbody tr')).toHaveCount(7);
  await testInfo.attach('degeneracy', { body: await view.screenshot(), contentType: 'image/png' });

  // The address now holds the search: a fresh page recomputes the same clusters.
  await expect.poll(() => page.url(), { timeout: 10_000 }).toMatch(/#v1\./);
  const reader = await page.context().newPage();
  await reader.goto(page.url());
  const restored = reader.getByTestId('dkn-result');
  await expect(restored).toBeVisible({ timeout: 90_000 });
  await expect(restored).toHaveAttribute('data-clusters', String(clusters));
  await expect(reader.getByTestId('dkn-from')).toHaveValue('1');
  await expect(reader.getByTestId('dkn-path')).toHaveValue('amig');
  await expect(restored).toContainText(/from the AMIG baseline/);
});
