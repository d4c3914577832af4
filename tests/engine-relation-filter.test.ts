/** The page's update filter (D5) through the engine: neurons shared by more than 10% of the relation's facts are dropped. */
import { beforeAll, describe, expect, it } from 'vitest';
import { Gpt2Engine } from '../src/core/engine';
import { loadCheckpointFiles } from '../src/core/hub/checkpoint';
import type { Neuron } from '../src/core/knowledge/refine';
import { tinyCheckpointFiles } from './helpers/long-session';
import { useWasm } from './helpers/tf';

describe('Engine.relationFilter', () => {
  let engine: Gpt2Engine;
  beforeAll(async () => {
    await useWasm();
    engine = Gpt2Engine.fromCheckpoint(await loadCheckpointFiles({ kind: 'files', files: tinyCheckpointFiles() }));
  });

  it("keeps a fact's neurons only when at most 10% of the relation's facts share them", async () => {
    const fact = { prompts: ['The cap of France is', 'The cap of France is'], target: ' Paris' };
    const own = await engine.factNeurons({ ...fact, refine: { t: 0.2, p: 0.5, minPrompts: 0, strict: false } });
    const neurons: Neuron[] = own.refined.neurons.map((n) => [n.layer, n.index]);
    expect(neurons.length).toBeGreaterThan(0);
    const unshared: Neuron = [...Array(engine.info.config.nInner).keys()].map((i): Neuron => [0, i]).find(([l, i]) => !neurons.some(([a, b]) => a === l && b === i))!;
    const stages: string[] = [];
    const result = await engine.relationFilter(
      { neurons: [...neurons, unshared], relationFacts: [fact, fact], refine: { t: 0.2, p: 0.5, minPrompts: 0, strict: false } },
      { onProgress: (p) => stages.push(p.stage) },
    );
    // Every one of the fact's neurons is in 2 of 2 sets (100% > 10%); the unshared one is in none.
    expect(result).toEqual({ kept: [unshared], facts: 2 });
    expect(stages.some((s) => s.startsWith('fact 2 of 2'))).toBe(true);
    await expect(engine.relationFilter({ neurons, relationFacts: [] })).rejects.toThrow(/needs the relation's facts/);
  });
});
