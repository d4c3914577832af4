import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../src/core/model/safetensors';
import { expectCleanError, factlab } from './helpers/cli';
import { writeModelFolder } from './helpers/model-folder';

let folder: string;
beforeAll(() => {
  folder = writeModelFolder();
});

describe('factlab predict', () => {
  it('prints the documented JSON', async () => {
    const result = await factlab('predict', '--model', folder, '--prompt', 'The capital of France is', '--target', ' Paris', '--top', '5', '--json');
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out.model.config.nLayer).toBe(2);
    expect(out.tokens.map((t: { text: string }) => t.text).join('')).toBe('The capital of France is');
    expect(out.top).toHaveLength(5);
    for (const t of out.top) expect(t.prob).toBeGreaterThan(0);
    expect(out.top[0].prob).toBeGreaterThanOrEqual(out.top[4].prob);
    expect(out.target.text).toBe(' Paris');
    expect(out.target.ids).toEqual([6342]);
    expect(out.target.prob).toBeGreaterThan(0);
  });

  it('writes JSON longer than a pipe buffer (64 KiB) whole before it exits, to a slow reader', async () => {
    // The reader starts after the CLI has written, as `factlab … | jq` may: the pipe fills at 64 KiB.
    const command = `node bin/factlab.js predict --model '${folder}' --prompt 'The capital of France is' --top 1000 --json | (sleep 1; cat)`;
    const { stdout } = await promisify(execFile)('bash', ['-o', 'pipefail', '-c', command], { maxBuffer: 16 << 20 });
    expect(stdout.length).toBeGreaterThan(65_536);
    expect(JSON.parse(stdout).top).toHaveLength(1000);
  });

  it('accepts ids, scores multi-token targets as a product, and dumps logits', async () => {
    const dump = join(folder, 'logits.f32');
    const result = await factlab('predict', '--model', folder, '--ids', '464,3139,286', '--target', ' Ouagadougou', '--dump-logits', dump, '--json');
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out.target.ids.length).toBeGreaterThan(1);
    const product = out.target.tokenProbs.reduce((a: number, b: number) => a * b, 1);
    expect(out.target.prob).toBeCloseTo(product, 12);
    const logits = new Float32Array(readFileSync(dump).buffer.slice(0));
    expect(logits.length).toBe(50257);
    // The top token is the argmax of the dumped logits.
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    expect(out.top[0].id).toBe(best);
  });

  it('runs on WebGPU (Dawn + SwiftShader in Node) with the same result as wasm', async () => {
    const args = ['predict', '--model', folder, '--prompt', 'The capital of France is', '--target', ' Paris', '--top', '5', '--json'];
    const wasm = JSON.parse((await factlab(...args)).stdout);
    const webgpu = await factlab(...args, '--backend', 'webgpu');
    expect(webgpu.code, webgpu.stderr).toBe(0);
    const out = JSON.parse(webgpu.stdout);
    expect(out.top.map((t: { id: number }) => t.id)).toEqual(wasm.top.map((t: { id: number }) => t.id));
    expect(out.target.prob).toBeCloseTo(wasm.target.prob, 6);
  });

  it('rejects bad input with one clear line', async () => {
    expectCleanError(await factlab('predict', '--model', folder, '--prompt', '', '--json'), /prompt is empty/);
    expectCleanError(await factlab('predict', '--model', folder, '--prompt', 'word '.repeat(40), '--json'), /at most 32/);
    expectCleanError(await factlab('predict', '--model', folder, '--ids', '1,x', '--json'), /comma-separated list of integers/);
    expectCleanError(await factlab('predict', '--model', folder, '--ids', '99999999', '--json'), /outside the vocabulary/);
    expectCleanError(await factlab('predict', '--model', 'http://127.0.0.1:1/nothing', '--prompt', 'a', '--json'), /reach|unreachable|connect/i);
    expectCleanError(await factlab('predict', '--model', join(folder, 'missing'), '--prompt', 'a'), /does not exist/);
    expectCleanError(await factlab('frobnicate'), /unknown command/);
    expectCleanError(await factlab('predict', '--model', folder, '--prompt', 'a', '--top', '0'), /--top/);
  });

  it('names the problem in a broken checkpoint', async () => {
    const bytes = readFileSync(join(folder, 'model.safetensors'));
    const broken = writeModelFolder();
    writeFileSync(join(broken, 'model.safetensors'), bytes.subarray(0, bytes.length - 100));
    expectCleanError(await factlab('predict', '--model', broken, '--prompt', 'a'), /truncated|claims bytes/);

    const lying = writeModelFolder();
    const header = new DataView(bytes.buffer, bytes.byteOffset, 8);
    const copy = Uint8Array.from(bytes);
    new DataView(copy.buffer).setBigUint64(0, header.getBigUint64(0, true) + 10_000_000_000n, true);
    writeFileSync(join(lying, 'model.safetensors'), copy);
    expectCleanError(await factlab('predict', '--model', lying, '--prompt', 'a'), /header claims/);

    const missing = writeModelFolder();
    writeFileSync(join(missing, 'model.safetensors'), writeSafetensors({ 'wte.weight': { shape: [50257, 16], data: new Float32Array(50257 * 16) } }));
    expectCleanError(await factlab('predict', '--model', missing, '--prompt', 'a'), /missing tensor/);

    const mismatch = writeModelFolder();
    const config = JSON.parse(readFileSync(join(mismatch, 'config.json'), 'utf8'));
    writeFileSync(join(mismatch, 'config.json'), JSON.stringify({ ...config, n_embd: 32, n_inner: 128 }));
    expectCleanError(await factlab('predict', '--model', mismatch, '--prompt', 'a'), /shape .* but config\.json implies/);

    const dtype = writeModelFolder();
    writeFileSync(join(dtype, 'model.safetensors'), writeSafetensors({ 'wte.weight': { shape: [2], data: new Float32Array(2) } }));
    const text = readFileSync(join(dtype, 'model.safetensors')).toString('latin1').replace('"F32"', '"I64"');
    writeFileSync(join(dtype, 'model.safetensors'), Buffer.from(text, 'latin1'));
    expectCleanError(await factlab('predict', '--model', dtype, '--prompt', 'a'), /dtype I64/);
  });
});
