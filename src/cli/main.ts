/**
 * `factlab` command-line tool over the same engine the lab's worker runs.
 * Output is JSON with --json (or a short human summary); errors are one line on stderr
 * with a non-zero exit code, never a stack trace.
 */
import { describeError, FactlabError } from '../core/errors';
import { runDkn } from './dkn';
import { runEdit, runErase } from './editing';
import { runAttribute, runEvaluate, runIntervene, runNeurons } from './knowledge';
import { runPredict } from './predict';
import { runSubnet, SUBNET_USAGE } from './subnet';

const USAGE = `usage: factlab <command> [options]

models: --model default (the embedded GPT-2), default-bert (the embedded BERT), a folder, a URL or
        a Hub repo@revision; GPT-2 and BERT checkpoints are told apart by config.json. For BERT,
        prompts hold one [MASK] ("The capital of France is [MASK].") and the target is one word piece.
        dkn and subnet are GPT-2 only and say so for a BERT.

commands:
  predict   next-token (GPT-2) or [MASK] (BERT) distribution and target probability for a prompt
            --model <default|default-bert|folder|url|repo@rev> (--prompt TEXT | --ids 1,2,3)
            [--target TEXT] [--top K] [--backend wasm|cpu|webgpu] [--dump-logits FILE.json|FILE.f32] [--json]
  attribute integrated-gradients attribution of the FFN neurons for one prompt and target
            --model M --prompt TEXT --target TEXT [--steps 20] [--rule right|left|trapezoid|eleuther|gauss]
            [--site post|pre] [--layers A-B] [--path fast|full] [--baseline zero|amig] [--json]
  neurons   refined knowledge neurons of facts, as [[layer, index], …]
            --model M --facts FILE|default [--ids ID,…] [--preset project|official-kn|eleutherai]
            [--t 0.2] [--p 0.7] [--auto-tune-p] [--method ig|activation] [--split all|train|heldout] [--json]
  intervene probability of a target before/after scaling neurons
            --model M --prompt TEXT --target TEXT --neurons L:I,… [--mode suppress|amplify|scale=F] [--json]
  evaluate  the paper's suppress/amplify table over a sample of facts
            --model M --facts FILE|default [--count 100] [--seed 42] [--relations R,…] [--method ig|activation] [--json]
  edit      update one fact through its knowledge neurons (norm-scaled, λ1 = 1, λ2 = 8) and measure it
            --model M --facts FILE|default --id FACT_ID --to NEW_OBJECT [--kn neurons.json] [--seed 42] [--json]
  erase     erase a relation through its 20 most frequent knowledge neurons and measure it
            --model M --facts FILE|default --relation R [--kn neurons.json] [--replacement zero|unk|mean-embedding] [--json]
  dkn       degenerate knowledge neurons of facts: clusters, functional filter, subset drops, verdict
            --model M --facts FILE|default [--ids ID,…] [--preset project|dkn-code] [--steps 20] [--prompts N]
            [--t 0.2] [--joint-drop-min 0.3] [--max-span 3] [--baselines pairwise,hierarchical,dbscan,kmeans]
            [--layers A-B] [--path zero|amig] [--seed 42] [--no-controls] [--split all|train|heldout] [--json]
${SUBNET_USAGE}
Errors print one line on stderr and exit non-zero; FACTLAB_DEBUG=1 adds the stack.
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  predict: runPredict,
  attribute: runAttribute,
  neurons: runNeurons,
  intervene: runIntervene,
  evaluate: runEvaluate,
  edit: runEdit,
  erase: runErase,
  dkn: runDkn,
  subnet: runSubnet,
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

/** Exits once stdout and stderr are flushed: output to a pipe is written asynchronously, and exiting earlier cuts it at the pipe's buffer (64 KiB). */
function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (err) => {
    const { code, message } = describeError(err);
    process.stderr.write(`factlab: ${message}${code === 'internal' ? ' (internal error; please report it)' : ''}\n`);
    if (process.env.FACTLAB_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    exitAfterFlush(code === 'usage' ? 2 : 1);
  },
);
