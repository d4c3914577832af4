import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeRandomBertCheckpoint, smallBertConfig } from '../scripts/lib/random-bert-checkpoint';
import { expectCleanError, factlab } from './helpers/cli';

let folder: string;
let factsCsv: string;
beforeAll(() => {
  const { configJson, safetensors, vocabTxt } = makeRandomBertCheckpoint({ config: smallBertConfig(), seed: 8, std: 0.3 });
  folder = mkdtempSync(join(tmpdir(), 'factlab-cli-bert-'));
  writeFileSync(join(folder, 'config.json'), JSON.stringify(configJson));
  writeFileSync(join(folder, 'model.safetensors'), safetensors);
  writeFileSync(join(folder, 'vocab.txt'), vocabTxt);
  factsCsv = join(folder, 'facts.csv');
  writeFileSync(
    factsCsv,
    'subject,relation,object,prompts\n' +
      'france,capital_city,paris,"the capital of france is [MASK]. | [MASK] is the capital of france. | in france, the capital city is [MASK]."\n' +
      'italy,capital_city,rome,"the capital of italy is [MASK]. | [MASK] is the capital of italy. | in italy, the capital city is [MASK]."\n' +
      'berlin,city_in,germany,"berlin is in [MASK]. | berlin is a city of [MASK]. | the city of berlin is in [MASK]."\n' +
      'london,city_in,england,"london is in [MASK]. | london is a city of [MASK]. | the city of london is in [MASK]."\n',
  );
});

describe('factlab on a BERT checkpoint', () => {
  it('predicts at [MASK] and attributes there, with the documented JSON', async () => {
    const predicted = JSON.parse((await factlab('predict', '--model', folder, '--prompt', 'the capital of france is [MASK].', '--target', 'paris', '--json')).stdout);
    expect(predicted.model.arch).toBe('bert');
    expect(predicted.target.prob).toBeGreaterThan(0);
    const attributed = JSON.parse((await factlab('attribute', '--model', folder, '--prompt', 'the capital of france is [MASK].', '--target', 'paris', '--steps', '4', '--json')).stdout);
    expect(attributed.layers).toEqual([0, 1]);
    expect(attributed.width).toBe(64);
    expect(attributed.settings.path).toBe('full');
    expect(attributed.pFull).toBeCloseTo(predicted.target.prob, 6);
  });

  it('finds neurons, intervenes, evaluates, edits and erases', async () => {
    const neurons = JSON.parse((await factlab('neurons', '--model', folder, '--facts', factsCsv, '--steps', '3', '--t', '0.1', '--p', '0.3', '--json')).stdout);
    expect(neurons.facts).toHaveLength(4);
    const after = JSON.parse((await factlab('intervene', '--model', folder, '--prompt', '[MASK] is the capital of italy.', '--target', 'rome', '--neurons', '0:1,1:2', '--mode', 'suppress', '--json')).stdout);
    expect(after.after.prob).not.toBe(after.before.prob);
    const table = JSON.parse((await factlab('evaluate', '--model', folder, '--facts', factsCsv, '--count', '4', '--steps', '3', '--json')).stdout);
    expect(table.facts).toBe(4);
    expect(table.skipped).toEqual([]);
    const erased = JSON.parse((await factlab('erase', '--model', folder, '--facts', factsCsv, '--relation', 'capital_city', '--steps', '3', '--replacement', 'unk', '--json')).stdout);
    expect(erased.replacement).toBe('unk');
    const edited = await factlab('edit', '--model', folder, '--facts', factsCsv, '--id', 'capital_city/france', '--to', 'rome', '--steps', '3', '--json');
    expect(edited.code).toBe(0);
  });

  it('says clearly what BERT cannot do or what is wrong with a prompt', async () => {
    expectCleanError(await factlab('predict', '--model', folder, '--prompt', 'the capital of france is paris.'), /exactly one \[MASK\]/);
    expectCleanError(await factlab('predict', '--model', folder, '--prompt', '[MASK] is the capital of [MASK].'), /exactly one \[MASK\]; this one has 2/);
    expectCleanError(await factlab('attribute', '--model', folder, '--prompt', 'the capital of france is [MASK].', '--target', 'paris', '--path', 'fast'), /no fast attribution path/);
    expectCleanError(await factlab('erase', '--model', folder, '--facts', factsCsv, '--relation', 'capital_city', '--steps', '3', '--replacement', 'mean-embedding'), /erase with zero or unk/);
    expectCleanError(await factlab('dkn', '--model', folder, '--facts', factsCsv), /GPT-2 checkpoints only/);
    expectCleanError(await factlab('subnet', 'eval', '--model', folder, '--mask', join(folder, 'none.safetensors'), '--target-relation', 'capital_city'), /GPT-2 checkpoints only/);
  });

  it('refuses a vocab.txt that does not match the embedding', async () => {
    const broken = mkdtempSync(join(tmpdir(), 'factlab-cli-bert-bad-'));
    const { configJson, safetensors, vocabTxt } = makeRandomBertCheckpoint({ config: smallBertConfig(), seed: 8 });
    writeFileSync(join(broken, 'config.json'), JSON.stringify(configJson));
    writeFileSync(join(broken, 'model.safetensors'), safetensors);
    writeFileSync(join(broken, 'vocab.txt'), vocabTxt.split('\n').slice(0, 100).join('\n'));
    expectCleanError(await factlab('predict', '--model', broken, '--prompt', '[MASK].'), /vocab_size/);
  });
});
