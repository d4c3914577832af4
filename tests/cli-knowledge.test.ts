import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectCleanError, factlab } from './helpers/cli';
import { writeModelFolder } from './helpers/model-folder';

let folder: string;
let factsCsv: string;
beforeAll(() => {
  folder = writeModelFolder();
  factsCsv = join(folder, 'facts.csv');
  writeFileSync(
    factsCsv,
    'subject,relation,object,prompts\n' +
      'France,capital_city,Paris,"The capital of France is | France\'s capital is | The capital city of France is"\n' +
      'Japan,capital_city,Tokyo,"The capital of Japan is | Japan\'s capital is"\n',
  );
});

describe('factlab attribute', () => {
  it('prints the documented JSON; fast and full paths agree', async () => {
    const args = ['attribute', '--model', folder, '--prompt', 'The capital of France is', '--target', ' Paris', '--steps', '5', '--rule', 'left', '--json'];
    const fast = JSON.parse((await factlab(...args)).stdout);
    expect(fast.layers).toEqual([0, 1]);
    expect(fast.width).toBe(64);
    expect(fast.attributions).toHaveLength(2);
    expect(fast.attributions[0]).toHaveLength(64);
    expect(fast.completeness[0]).toEqual(expect.objectContaining({ layer: 0, sum: expect.any(Number), delta: expect.any(Number), relError: expect.any(Number) }));
    expect(fast.pFull).toBeGreaterThan(0);
    const full = JSON.parse((await factlab(...args, '--path', 'full')).stdout);
    for (let l = 0; l < 2; l++) {
      const scale = Math.max(...full.attributions[l].map(Math.abs));
      const worst = Math.max(...fast.attributions[l].map((v: number, i: number) => Math.abs(v - full.attributions[l][i])));
      expect(worst / scale).toBeLessThan(1e-4);
    }
  });

  it('rejects bad settings and targets', async () => {
    const base = ['attribute', '--model', folder, '--prompt', 'The capital of France is', '--target', ' Paris'];
    expectCleanError(await factlab(...base, '--steps', '0'), /--steps must be an integer from 1 to 1000/);
    expectCleanError(await factlab(...base, '--steps', '100000'), /--steps must be an integer from 1 to 1000/);
    expectCleanError(await factlab(...base, '--rule', 'middle'), /--rule must be one of/);
    expectCleanError(await factlab(...base, '--baseline', 'mean'), /--baseline must be one of zero, amig, got "mean"/);
    expectCleanError(await factlab(...base, '--layers', '5-9'), /outside 0-1/);
    expectCleanError(await factlab('attribute', '--model', folder, '--prompt', 'The capital of France is ', '--target', 'Paris'), /not how this tokenizer continues/);
  });
});

describe('factlab neurons and intervene', () => {
  it('refines neurons per fact from a CSV fact file', async () => {
    const result = await factlab('neurons', '--model', folder, '--facts', factsCsv, '--steps', '3', '--t', '0.1', '--p', '0.3', '--json');
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out.facts.map((f: { id: string }) => f.id)).toEqual(['capital_city/france', 'capital_city/japan']);
    expect(out.facts[0].prompts).toBe(3);
    for (const f of out.facts) for (const [layer, index] of f.neurons) {
      expect(layer).toBeGreaterThanOrEqual(0);
      expect(index).toBeLessThan(64);
    }
    expectCleanError(await factlab('neurons', '--model', folder, '--facts', factsCsv, '--ids', 'capital_city/nowhere'), /No fact with id/);
    expectCleanError(await factlab('neurons', '--model', folder, '--facts', join(folder, 'none.csv')), /Cannot read the fact file/);
  });

  it('intervenes on neurons and checks the list', async () => {
    const base = ['intervene', '--model', folder, '--prompt', 'The capital of France is', '--target', ' Paris'];
    const out = JSON.parse((await factlab(...base, '--neurons', '0:1,1:2', '--mode', 'amplify', '--json')).stdout);
    expect(out.scale).toBe(2);
    expect(out.before.prob).toBeGreaterThan(0);
    expect(out.after.prob).not.toBe(out.before.prob);
    expectCleanError(await factlab(...base, '--neurons', ''), /neuron list is empty/);
    expectCleanError(await factlab(...base, '--neurons', '7:1'), /Layer 7 is out of range/);
    expectCleanError(await factlab(...base, '--neurons', '0:999'), /index 999 is out of range/);
    expectCleanError(await factlab(...base, '--neurons', '0:1', '--mode', 'explode'), /--mode must be/);
  });
});
