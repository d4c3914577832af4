import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { FactlabError } from '../src/core/errors';
import { loadCheckpointFiles } from '../src/core/hub/checkpoint';
import { attributeMasked, maskPositionOf } from '../src/core/knowledge/bert-attribution';
import { maskedFactInputs, maskedFactNeurons } from '../src/core/knowledge/bert-neurons';
import { REFINE_PRESETS, refineNeurons } from '../src/core/knowledge/refine';
import { riemannGrid } from '../src/core/knowledge/riemann';
import { bertFromCheckpointFiles, checkpointArchitecture } from '../src/core/model/bert-model';
import { disposeBertWeights } from '../src/core/model/bert-weights';
import { makeRandomBertCheckpoint, smallBertConfig } from '../scripts/lib/random-bert-checkpoint';
import { maxRelativeError, tensorCount, useWasm } from './helpers/tf';

beforeAll(useWasm);

const REFERENCE = fileURLToPath(new URL('./reference/bert_ref.py', import.meta.url));
const hasNumpy = spawnSync('python3', ['-c', 'import numpy']).status === 0;

function bertFolder(extra: Record<string, string> = {}, edit?: (vocab: string) => string): string {
  const dir = mkdtempSync(join(tmpdir(), 'factlab-bert-'));
  const { configJson, safetensors, vocabTxt } = makeRandomBertCheckpoint({ config: smallBertConfig(), seed: 5, std: 0.3 });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configJson));
  writeFileSync(join(dir, 'model.safetensors'), safetensors);
  writeFileSync(join(dir, 'vocab.txt'), edit ? edit(vocabTxt) : vocabTxt);
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  return dir;
}

async function loadBert(dir: string) {
  const files = await loadCheckpointFiles({ kind: 'folder', path: dir });
  expect(checkpointArchitecture(files.configJson)).toBe('bert');
  return bertFromCheckpointFiles(files);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FactlabError);
    return (err as FactlabError).code;
  }
  return undefined;
}

describe('loading a BERT checkpoint through the hub loader', () => {
  it('detects the architecture and builds weights and a WordPiece tokenizer that agree', async () => {
    const { weights, tokenizer } = await loadBert(bertFolder());
    expect(weights.config.nLayer).toBe(2);
    expect(tokenizer.vocabSize).toBe(weights.config.vocabSize);
    // The generated vocabulary has upper-case pieces, so without tokenizer_config.json it is read as cased.
    expect(tokenizer.lowercase).toBe(false);
    expect(tokenizer.encodeForModel('paris is the capital of [MASK].').map((id) => tokenizer.tokenText(id))).toEqual(['[CLS]', 'paris', 'is', 'the', 'capital', 'of', '[MASK]', '.', '[SEP]']);
    disposeBertWeights(weights);
  });

  it('follows do_lower_case from tokenizer_config.json', async () => {
    const { weights, tokenizer } = await loadBert(bertFolder({ 'tokenizer_config.json': JSON.stringify({ do_lower_case: true }) }));
    expect(tokenizer.tokenize('Paris')).toEqual(['paris']);
    disposeBertWeights(weights);
  });

  it('rejects a vocab.txt that does not match the embedding size', async () => {
    const files = await loadCheckpointFiles({ kind: 'folder', path: bertFolder({}, (v) => `${v}extra\n`) });
    expect(() => bertFromCheckpointFiles(files)).toThrow(/121 tokens but config\.json's vocab_size .* is 120/);
  });

  it('names the architecture of other checkpoints or refuses them', () => {
    expect(checkpointArchitecture({ model_type: 'gpt2' })).toBe('gpt2');
    expect(checkpointArchitecture({})).toBe('gpt2');
    expect(codeOf(() => checkpointArchitecture({ model_type: 't5' }))).toBe('unsupported-model');
  });
});

describe('knowledge-neuron attribution at [MASK]', () => {
  it('needs exactly one [MASK]', () => {
    expect(codeOf(() => maskPositionOf([2, 10, 11, 3], 4))).toBe('no-mask');
    expect(codeOf(() => maskPositionOf([2, 4, 11, 4, 3], 4))).toBe('several-masks');
    expect(maskPositionOf([2, 10, 4, 3], 4)).toBe(2);
  });

  it('refuses the causal fast path and a prompt without [MASK]', async () => {
    const { weights, tokenizer } = await loadBert(bertFolder());
    await expect(attributeMasked(weights, tokenizer.encodeForModel('the capital [MASK]'), tokenizer.maskId, 10, { path: 'fast' })).rejects.toMatchObject({ code: 'bad-option' });
    await expect(attributeMasked(weights, tokenizer.encodeForModel('the capital'), tokenizer.maskId, 10)).rejects.toMatchObject({ code: 'no-mask' });
    disposeBertWeights(weights);
  });

  it.runIf(hasNumpy)('matches the official algorithm on the full sequence (float64 NumPy, finite differences) and frees its tensors', async () => {
    const dir = bertFolder();
    const { weights, tokenizer } = await loadBert(dir);
    const promptIds = tokenizer.encodeForModel('paris is the capital of [MASK].');
    const target = tokenizer.tokenId('france')!;
    const steps = 4;
    const before = tensorCount();
    const result = await attributeMasked(weights, promptIds, tokenizer.maskId, target, { steps, rule: 'right', layers: [0, 1] });
    expect(tensorCount()).toBe(before);
    expect(result.maskPosition).toBe(6);
    expect(result.settings.path).toBe('full');
    const { alphas, weights: ruleWeights } = riemannGrid('right', steps);
    for (const layer of result.layers) {
      const run = spawnSync('python3', [REFERENCE, 'ig'], {
        input: JSON.stringify({ dir, tokens: promptIds, layer: layer.layer, position: result.maskPosition, gold: target, alphas, weights: ruleWeights }),
        encoding: 'utf8',
      });
      expect(run.status, run.stderr).toBe(0);
      const expected: number[] = JSON.parse(run.stdout);
      expect(maxRelativeError(layer.scores, expected)).toBeLessThan(1e-4);
    }
    disposeBertWeights(weights);
  }, 60_000);

  it('approaches completeness (Σ scores = P(full) − P(layer zeroed)) as steps grow', async () => {
    const { weights, tokenizer } = await loadBert(bertFolder());
    const promptIds = tokenizer.encodeForModel('paris is the capital of [MASK].');
    const result = await attributeMasked(weights, promptIds, tokenizer.maskId, tokenizer.tokenId('france')!, { steps: 64, rule: 'trapezoid', layers: [1, 1] });
    expect(result.layers[0].relError).toBeLessThan(0.01);
    disposeBertWeights(weights);
  });
});

describe("a fact's knowledge neurons from masked paraphrases", () => {
  const prompts = ['paris is the capital of [MASK].', 'the capital of [MASK] is paris.', 'paris is a city in [MASK].'];

  it('turns prompts and a one-piece answer into ids, and says what is wrong otherwise', async () => {
    const { weights, tokenizer } = await loadBert(bertFolder());
    const inputs = maskedFactInputs(tokenizer, prompts, 'france');
    expect(inputs.targetId).toBe(tokenizer.tokenId('france'));
    expect(inputs.promptIds[1][0]).toBe(tokenizer.clsId);
    expect(() => maskedFactInputs(tokenizer, prompts, 'frankreich')).toThrow(/"frankreich" is \d+ word pieces .* one-token answers/);
    expect(() => maskedFactInputs(tokenizer, [...prompts, 'paris is in france.'], 'france')).toThrow(/Prompt "paris is in france\.": .*has none/);
    expect(() => maskedFactInputs(tokenizer, ['[MASK] is the capital of [MASK].'], 'france')).toThrow(expect.objectContaining({ code: 'several-masks' }));
    expect(() => maskedFactInputs(tokenizer, [], 'france')).toThrow(expect.objectContaining({ code: 'bad-facts' }));
    disposeBertWeights(weights);
  });

  it('attributes every paraphrase at its [MASK] and refines across them', async () => {
    const { weights, tokenizer } = await loadBert(bertFolder());
    const inputs = maskedFactInputs(tokenizer, prompts, 'france');
    const settings = { steps: 4, layers: [0, 1] as [number, number] };
    const result = await maskedFactNeurons(weights, tokenizer.maskId, inputs, { attribution: settings, refine: REFINE_PRESETS.project });
    expect(result.perPrompt.map((p) => p.maskPosition)).toEqual([6, 4, 6]);
    expect(result.attribution.path).toBe('full');
    const separately = await Promise.all(inputs.promptIds.map((ids) => attributeMasked(weights, ids, tokenizer.maskId, inputs.targetId, settings)));
    expect(result.refined).toEqual(refineNeurons(separately.map((r) => ({ layers: r.layers })), REFINE_PRESETS.project));
    expect(result.refined.neurons.length).toBeGreaterThan(0);
    disposeBertWeights(weights);
  });
});
