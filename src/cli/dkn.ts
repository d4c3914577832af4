/** `factlab dkn`: degenerate knowledge neurons of facts (methods.md §4.3), per fact and as a fact-set summary. */
import { FactlabError } from '../core/errors';
import { findDegenerateNeurons, type DknResult } from '../core/degeneracy/dkn';
import { BASELINES, DKN_PRESETS, resolveDknSettings, type BaselineName, type DknOptions, type DknPreset } from '../core/degeneracy/settings';
import { summarizeDknResults } from '../core/degeneracy/summary';
import { loadFactSetFile, selectFacts } from './facts-file';
import { loadGpt2Engine, parseCommandArgs, parseLayerRange, parsePositiveInt, printJson } from './common';
import { factItems } from './fact-items';
import { igBaseline } from './knowledge';

function fraction(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!(value >= 0 && value <= 1)) throw new FactlabError('usage', `${flag} must be a number from 0 to 1, got "${text}".`);
  return value;
}

export function dknOptions(args: Record<string, string | boolean | undefined>): DknOptions {
  const preset = (args.preset ?? 'project') as DknPreset;
  if (!(DKN_PRESETS as readonly string[]).includes(preset)) throw new FactlabError('usage', `--preset must be one of ${DKN_PRESETS.join(', ')}.`);
  const baselines = typeof args.baselines === 'string' ? args.baselines.split(',').map((s) => s.trim()).filter(Boolean) : [];
  for (const b of baselines) if (!(BASELINES as readonly string[]).includes(b)) throw new FactlabError('usage', `--baselines takes ${BASELINES.join(', ')} (comma-separated), got "${b}".`);
  const seed = args.seed === undefined ? undefined : Number(args.seed);
  if (seed !== undefined && !Number.isInteger(seed)) throw new FactlabError('usage', `--seed must be an integer, got "${String(args.seed)}".`);
  const t = fraction(args.t as string | undefined, '--t');
  const jointDropMin = fraction(args['joint-drop-min'] as string | undefined, '--joint-drop-min');
  const options: DknOptions = { preset, baselines: baselines as BaselineName[], seed };
  if (args.steps !== undefined) options.steps = parsePositiveInt(args.steps as string, '--steps', 20, 1000);
  if (typeof args.path === 'string') options.path = igBaseline(args.path, '--path');
  if (args['max-span'] !== undefined) options.maxSpan = parsePositiveInt(args['max-span'] as string, '--max-span', 3, 100);
  if (t !== undefined) options.coarse = { t };
  if (jointDropMin !== undefined) options.filter = { jointDropMin };
  if (args['no-controls']) options.controls = null;
  return options;
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);
const num = (x: number | null) => (x === null ? '—' : x.toPrecision(3));
const neuronText = ([l, i]: [number, number]) => `${l}:${i}`;

function printFact(id: string, r: DknResult): void {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`${id}: P0 = ${r.p0.toExponential(3)}, ${r.neurons.length} knowledge neurons (${r.promptsUsed}/${r.prompts} prompts)`);
  out(`  neurons: ${r.neurons.slice(0, 20).map((n) => `${n.layer}:${n.index}${n.score === null ? '' : ` (${n.score.toExponential(2)})`}`).join(', ')}${r.neurons.length > 20 ? ', …' : ''}`);
  const d = r.distances;
  out(`  distances: ${d.pairs} pairs, ${d.finitePairs} finite; min ${num(d.min)}, median ${num(d.median)}`);
  if (r.clusters.length === 0) out('  clusters: none');
  r.clusters.forEach((c, k) => {
    const decision = r.filter.decisions[k];
    out(`  cluster ${k}: {${c.neurons.map(neuronText).join(', ')}} birth ${num(c.birth ?? null)}, persistence ${num(c.persistence ?? null)}; drop ${pct(decision.drop)} → ${decision.passed ? 'passes' : 'rejected'}`);
  });
  if (r.filter.passing.length) out(`  joint drop of ${r.filter.passing.length} passing cluster(s): ${pct(r.jointDrop)}`);
  if (r.analysis) out(`  subsets: ${r.analysis.meanBySize.map((m) => `size ${m.size} mean ${pct(m.mean)} (${m.count})`).join('; ')}; all ${pct(r.analysis.all)}`);
  const all = r.controls?.controls.find((c) => c.target === 'all');
  if (all) out(`  random control (${all.size} neurons, same layers): mean drop ${pct(all.mean)}`);
  for (const b of r.baselines) out(`  baseline ${b.name}: ${b.clusters.length} group(s) → ${b.dkn ? 'DKN' : 'no DKN'}${b.filter ? ` (${b.filter.reason})` : ''}`);
  out(`  verdict: ${r.verdict.dkn ? 'degenerate knowledge neurons' : `no DKN (${r.verdict.reason})`}`);
}

export async function runDkn(argv: string[]): Promise<number> {
  const args = parseCommandArgs(
    argv,
    {
      model: { type: 'string' }, facts: { type: 'string' }, ids: { type: 'string' }, split: { type: 'string' }, steps: { type: 'string' }, preset: { type: 'string' },
      prompts: { type: 'string' }, t: { type: 'string' }, 'joint-drop-min': { type: 'string' }, 'max-span': { type: 'string' }, baselines: { type: 'string' }, seed: { type: 'string' },
      layers: { type: 'string' }, path: { type: 'string' }, 'no-controls': { type: 'boolean' },
    },
    'dkn',
  );
  const options = dknOptions(args);
  resolveDknSettings(options); // bad settings are reported before the model loads
  const maxPrompts = parsePositiveInt(args.prompts, '--prompts', 1000, 1000);
  const set = loadFactSetFile(args.facts);
  const facts = selectFacts(set, args.ids);
  const engine = await loadGpt2Engine(args.model, args.backend, 'degeneracy');
  try {
    if (typeof args.layers === 'string') options.layers = parseLayerRange(args.layers, engine.info.config.nLayer);
    const settings = resolveDknSettings(options);
    const perFact = [];
    for (const [k, fact] of facts.entries()) {
      const items = factItems(engine, set, fact, args.split).slice(0, maxPrompts);
      const result = await findDegenerateNeurons(engine.weights, { promptIds: items.map((i) => i.promptIds), targetIds: items[0].targetIds }, options, {
        onProgress: (p) => process.stderr.isTTY && process.stderr.write(`\rfact ${k + 1}/${facts.length} ${fact.id}: ${p.stage}   `),
      });
      perFact.push({ id: fact.id, relation: fact.relation, subject: fact.subject, object: fact.object, result });
      if (!args.json) printFact(fact.id, result);
    }
    if (process.stderr.isTTY) process.stderr.write('\n');
    const summary = summarizeDknResults(perFact.map((f) => f.result));
    if (args.json) printJson({ model: engine.info.id, settings, facts: perFact, summary });
    else {
      process.stdout.write(`\n${summary.facts} facts: ${summary.withDkn} with degenerate knowledge neurons (${pct(summary.fraction)})\n`);
      process.stdout.write(`  mean knowledge neurons ${summary.meanNeurons.toFixed(2)}, candidate clusters ${summary.meanCandidates.toFixed(2)}, passing ${summary.meanPassing.toFixed(2)}\n`);
      process.stdout.write(`  cluster sizes ${JSON.stringify(summary.bdcSizes)}, layer spans ${JSON.stringify(summary.layerSpans)}, mean joint drop ${pct(summary.meanJointDrop)}\n`);
      process.stdout.write(`  verdicts ${JSON.stringify(summary.reasons)}\n`);
    }
    return 0;
  } finally {
    engine.dispose();
  }
}
