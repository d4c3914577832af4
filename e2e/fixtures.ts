/** Shared fixtures: open the lab for the project's backend and wait for the default model. */
import { expect, test as base, type Page } from '@playwright/test';

export interface LabOptions {
  /** Query string the lab is opened with (e.g. '?backend=wasm'). */
  labQuery: string;
  /** Backend the indicator must show once started; undefined accepts any. */
  expectedBackend: string | undefined;
}

export interface LabFixtures {
  /** Opens the lab and waits until the default model is loaded and the first prediction shown. */
  openLab(): Promise<Page>;
}

/** Model loading and the first forward pass are slow on the software GPU: bounded but generous. */
export const LOAD_TIMEOUT = 60_000;

export const test = base.extend<LabOptions & LabFixtures>({
  labQuery: ['', { option: true }],
  expectedBackend: [undefined, { option: true }],
  openLab: async ({ page, labQuery, expectedBackend }, use) => {
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    await use(async () => {
      await page.goto(`/${labQuery}`);
      await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready', { timeout: LOAD_TIMEOUT });
      const backend = page.getByTestId('backend-name');
      await expect(backend).toHaveAttribute('data-state', 'ready');
      if (expectedBackend) await expect(backend).toHaveText(expectedBackend);
      await expect(page.getByTestId('top-token-row').first()).toBeVisible({ timeout: LOAD_TIMEOUT });
      return page;
    });
    expect(problems, 'uncaught errors in the page').toEqual([]);
  },
});

export { expect };

/** Probabilities of the rows of the top-token table (from their data-prob attributes). */
export async function topProbs(page: Page): Promise<number[]> {
  const values = await page.getByTestId('top-token-row').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-prob'))));
  return values;
}
