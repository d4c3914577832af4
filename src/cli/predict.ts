import { writeFileSync } from 'node:fs';
import { FactlabError } from '../core/errors';
import { loadEngine, parseCommandArgs, parseIntList, parsePositiveInt, printJson } from './common';

export async function runPredict(argv: string[]): Promise<number> {
  const args = parseCommandArgs(argv, {
    model: { type: 'string' },
    prompt: { type: 'string' },
    ids: { type: 'string' },
    target: { type: 'string' },
    top: { type: 'string' },
    'dump-logits': { type: 'string' },
  }, 'predict');
  if ((args.prompt === undefined) === (args.ids === undefined)) throw new FactlabError('usage', 'predict needs exactly one of --prompt TEXT or --ids 1,2,3.');
  const ids = args.ids !== undefined ? parseIntList(args.ids, '--ids') : undefined;
  const top = parsePositiveInt(args.top, '--top', 10, 1000);
  const dump = args['dump-logits'];
  if (dump !== undefined && !/\.(json|f32)$/.test(dump)) throw new FactlabError('usage', '--dump-logits FILE must end in .json or .f32.');
  const engine = await loadEngine(args.model, args.backend);
  try {
    const result = await engine.predict({ prompt: args.prompt, ids, target: args.target, top, withLogits: dump !== undefined });
    if (dump && result.logits) {
      const logits = result.logits;
      writeFileSync(dump, dump.endsWith('.f32') ? new Uint8Array(logits.buffer, logits.byteOffset, logits.byteLength) : JSON.stringify(Array.from(logits)));
    }
    const { logits: _omitted, ...rest } = result;
    const output = { model: { ...engine.info, config: engine.info.config }, tokens: rest.tokens, top: rest.top, target: rest.target && { text: rest.target.text, ids: rest.target.ids, prob: rest.target.prob, tokenProbs: rest.target.tokenProbs } };
    if (args.json) printJson(output);
    else {
      process.stdout.write(`${engine.info.id}  ${rest.tokens.length} tokens\n`);
      for (const t of rest.top) process.stdout.write(`${t.prob.toFixed(4)}  ${JSON.stringify(t.text)}\n`);
      if (rest.target) process.stdout.write(`target ${JSON.stringify(rest.target.text)}: ${rest.target.prob.toExponential(4)}\n`);
    }
    return 0;
  } finally {
    engine.dispose();
  }
}
