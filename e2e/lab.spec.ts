import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, LOAD_TIMEOUT, test, topProbs } from './fixtures';

const DEFAULT_MODEL_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'public', 'models', 'default');
const DEFAULT_MODEL_FILES = ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt'];

test('opens on the default model and predicts the next token as you type', async ({ openLab }) => {
  const page = await openLab();
  await expect(page.getByTestId('model-info')).toContainText('layers');
  await expect(page.getByTestId('model-info')).toContainText('parameters');

  const prompt = page.getByTestId('prompt-input');
  await prompt.fill('');
  await prompt.pressSequentially('Paris is the capital of', { delay: 20 });
  await page.getByTestId('target-input').fill(' France');

  // The shown result belongs to the typed prompt (stale answers are dropped).
  await expect(page.getByTestId('prompt-tokens')).toContainText('capital', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('prompt-tokens')).toContainText('␣of');
  const rows = page.getByTestId('top-token-row');
  await expect(rows).toHaveCount(10);

  const probs = await topProbs(page);
  expect(probs.length).toBeGreaterThanOrEqual(5);
  for (const p of probs) {
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThanOrEqual(1);
  }
  const total = probs.reduce((a, b) => a + b, 0);
  expect(total).toBeLessThanOrEqual(1 + 1e-9);
  for (let i = 1; i < probs.length; i++) expect(probs[i]).toBeLessThanOrEqual(probs[i - 1]);

  const target = page.getByTestId('target-prob');
  await expect(target).toContainText('France');
  const targetProb = Number(await target.getAttribute('data-prob'));
  expect(targetProb).toBeGreaterThan(0);
  expect(targetProb).toBeLessThanOrEqual(1);

  await expect(page.getByTestId('error-message')).toHaveCount(0);
});

test('an empty prompt shows a clear error, and typing again clears it', async ({ openLab }) => {
  const page = await openLab();
  await page.getByTestId('prompt-input').fill('');
  const alert = page.locator('[data-testid="error-message"][data-where="predict"]');
  await expect(alert).toBeVisible();
  await expect(alert).toHaveAttribute('role', 'alert');
  await expect(alert).toContainText(/prompt is empty/i);
  await expect(page.getByTestId('top-token-row')).toHaveCount(0);

  await page.getByTestId('prompt-input').fill('The capital of France is');
  await expect(alert).toHaveCount(0);
  await expect(page.getByTestId('top-token-row')).toHaveCount(10);
});

test('a malformed Hub id shows a clear error and keeps the loaded model', async ({ openLab }) => {
  const page = await openLab();
  await page.getByTestId('model-source-input').fill('not a repo!!@main');
  await page.getByTestId('load-source').click();
  const alert = page.locator('[data-testid="error-message"][data-where="model"]');
  await expect(alert).toBeVisible();
  await expect(alert).toContainText(/not a valid Hub repo id/i);
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready');
  await expect(page.getByTestId('top-token-row').first()).toBeVisible();
});

test('a Hub repo that cannot be downloaded shows the reason', async ({ openLab, context }) => {
  // No network in tests: answer every Hub request with 404, as the Hub does for a missing repo.
  await context.route('https://huggingface.co/**', (route) =>
    route.fulfill({ status: 404, body: 'Repository not found', headers: { 'access-control-allow-origin': '*', 'cross-origin-resource-policy': 'cross-origin' } }),
  );
  const page = await openLab();
  await page.getByTestId('model-source-input').fill('factlab-tests/no-such-model@main');
  await page.getByTestId('load-source').click();
  const alert = page.locator('[data-testid="error-message"][data-where="model"]');
  await expect(alert).toBeVisible({ timeout: LOAD_TIMEOUT });
  await expect(alert).toContainText(/config\.json/);
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready');
});

test('a slow download can be cancelled and the previous model stays', async ({ openLab, context }) => {
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  await context.route('**/slow-model/**', async (route) => {
    await held;
    await route.fulfill({ status: 404 }).catch(() => {});
  });
  const page = await openLab();
  await page.getByTestId('model-source-input').fill(new URL('/slow-model', page.url()).href);
  await page.getByTestId('load-source').click();
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'loading');
  await expect(page.getByTestId('load-progress')).toBeVisible();
  await page.getByTestId('cancel-load').click();
  await expect(page.getByTestId('load-progress')).toHaveCount(0);
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready');
  await expect(page.getByTestId('model-status')).toContainText('default model');
  await expect(page.getByTestId('error-message')).toHaveCount(0);
  release();
  await page.getByTestId('prompt-input').fill('The capital of Italy is');
  await expect(page.getByTestId('prompt-tokens')).toContainText('Italy');
});

test('loads a model from files chosen with the file picker', async ({ openLab }) => {
  const page = await openLab();
  await page.getByTestId('model-files-input').setInputFiles(DEFAULT_MODEL_FILES.map((f) => join(DEFAULT_MODEL_DIR, f)));
  await expect(page.getByTestId('model-status')).toContainText('4 local files', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('model-info')).toContainText('files:');
  await page.getByTestId('prompt-input').fill('The capital of Spain is');
  await expect(page.getByTestId('prompt-tokens')).toContainText('Spain', { timeout: LOAD_TIMEOUT });
  expect((await topProbs(page)).length).toBeGreaterThanOrEqual(5);
});

test('loads a model from files dropped on the drop zone', async ({ openLab }) => {
  const page = await openLab();
  const payload = DEFAULT_MODEL_FILES.map((name) => ({ name, base64: readFileSync(join(DEFAULT_MODEL_DIR, name)).toString('base64') }));
  const dataTransfer = await page.evaluateHandle((files) => {
    const dt = new DataTransfer();
    for (const { name, base64 } of files) {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], name));
    }
    return dt;
  }, payload);
  await page.getByTestId('dropzone').dispatchEvent('drop', { dataTransfer });
  await expect(page.getByTestId('model-status')).toContainText('4 local files', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('model-info')).toContainText('files:');
  await expect(page.getByTestId('top-token-row').first()).toBeVisible({ timeout: LOAD_TIMEOUT });
});

test('files without a model give a clear error', async ({ openLab }) => {
  const page = await openLab();
  await page.getByTestId('model-files-input').setInputFiles([{ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('hello') }]);
  const alert = page.locator('[data-testid="error-message"][data-where="model"]');
  await expect(alert).toContainText(/belongs to a model/);
  await page.getByTestId('model-files-input').setInputFiles([{ name: 'config.json', mimeType: 'application/json', buffer: Buffer.from('{"model_type":"gpt2"}') }]);
  await expect(alert).toContainText(/tokenizer/i, { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready');
});

test('forcing another backend restarts the engine and reloads the model', async ({ openLab }) => {
  const page = await openLab();
  await page.getByTestId('backend-select').selectOption('cpu');
  await expect(page.getByTestId('backend-name')).toHaveText('cpu', { timeout: LOAD_TIMEOUT });
  await expect(page).toHaveURL(/[?&]backend=cpu/);
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready', { timeout: LOAD_TIMEOUT });
  await page.getByTestId('prompt-input').fill('The capital of Japan is');
  await expect(page.getByTestId('prompt-tokens')).toContainText('Japan', { timeout: LOAD_TIMEOUT });
  expect((await topProbs(page)).length).toBe(10);
});

test('a Hub model downloads, is cached, and can be removed from the cache', async ({ openLab, context }) => {
  // A stand-in for the Hub that serves the default model's files (no network in tests).
  await context.route('https://huggingface.co/**', (route) => {
    const match = /^https:\/\/huggingface\.co\/factlab-tests\/tiny\/resolve\/main\/([^/?]+)$/.exec(route.request().url());
    const headers = { 'access-control-allow-origin': '*', 'cross-origin-resource-policy': 'cross-origin' };
    if (!match || !DEFAULT_MODEL_FILES.includes(match[1])) return route.fulfill({ status: 404, body: 'Entry not found', headers });
    return route.fulfill({ status: 200, body: readFileSync(join(DEFAULT_MODEL_DIR, match[1])), headers: { ...headers, 'content-type': 'application/octet-stream' } });
  });
  const page = await openLab();
  await page.getByTestId('model-source-input').fill('factlab-tests/tiny@main');
  await page.getByTestId('load-source').click();
  await expect(page.getByTestId('model-status')).toContainText('factlab-tests/tiny@main', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('model-status')).toHaveAttribute('data-state', 'ready', { timeout: LOAD_TIMEOUT });
  await expect(page.getByTestId('model-info')).toContainText('hub:factlab-tests/tiny@main');
  await expect(page.getByTestId('top-token-row').first()).toBeVisible({ timeout: LOAD_TIMEOUT });

  await page.getByText('Downloaded models in this browser').click();
  await expect(page.getByTestId('cache-list')).toContainText('hub:factlab-tests/tiny@main');
  await page.getByRole('button', { name: 'Remove hub:factlab-tests/tiny@main from the cache' }).click();
  await expect(page.getByTestId('cache-empty')).toBeVisible();
});
