// `purify` command line: one subcommand per file in tools/commands/, help from commands/usage.ts.
// Runs in the child process tools/purify-bin.ts starts (which filters Dawn's stderr noise).
import { answerWithoutEngine, UsageError, type USAGE } from './commands/usage.ts';

type Command = { run(argv: string[]): Promise<void> };
const commands: Record<keyof typeof USAGE, () => Promise<Command>> = {
  adapters: () => import('./commands/adapters.ts'),
  bench: () => import('./commands/bench.ts'),
  convert: () => import('./commands/convert.ts'),
  train: () => import('./commands/train.ts'),
  run: () => import('./commands/run.ts'),
  demo: () => import('./commands/demo.ts'),
  sample: () => import('./commands/sample.ts'),
  'serve-demo': () => import('./commands/serve-demo.ts'),
  eval: () => import('./commands/eval.ts'),
  card: () => import('./commands/card.ts'),
};

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const answer = answerWithoutEngine(args);
  if (answer) {
    if (answer.out) console.log(answer.out);
    if (answer.err) console.error(answer.err);
    return answer.code;
  }
  const [name, ...argv] = args;
  try {
    await (await commands[name]()).run(argv);
  } catch (err) {
    // node:util parseArgs's errors name the bad flag; point at the help that lists the good ones.
    const code = (err as { code?: string }).code;
    if (code?.startsWith('ERR_PARSE_ARGS')) throw new UsageError(`${(err as Error).message.split('. ')[0]} (see purify ${name} --help)`);
    throw err;
  }
  return 0;
}

// dawn.node keeps the event loop alive, so every command ends with an explicit exit.
main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`purify: ${err instanceof Error ? err.message : err}`);
    if (process.env.PURIFY_DEBUG) console.error(err);
    process.exit(err instanceof UsageError ? 2 : 1);
  },
);
