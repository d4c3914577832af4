/**
 * `factlab` command-line tool over the same engine the lab's worker runs.
 * Output is JSON with --json (or a short human summary); errors are one line on stderr
 * with a non-zero exit code, never a stack trace.
 */
import { describeError, FactlabError } from '../core/errors';
import { runPredict } from './predict';

const USAGE = `usage: factlab <command> [options]

commands:
  predict   next-token distribution and target probability for a prompt
            --model <default|folder|url|repo@rev> (--prompt TEXT | --ids 1,2,3)
            [--target TEXT] [--top K] [--backend wasm|cpu|webgpu] [--dump-logits FILE.json|FILE.f32] [--json]
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  predict: runPredict,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  const run = COMMANDS[command];
  if (!run) throw new FactlabError('usage', `unknown command "${command}". Commands: ${Object.keys(COMMANDS).join(', ')}.`);
  return run(rest);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    const { code, message } = describeError(err);
    process.stderr.write(`factlab: ${message}${code === 'internal' ? ' (internal error; please report it)' : ''}\n`);
    if (process.env.FACTLAB_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exit(code === 'usage' ? 2 : 1);
  },
);
