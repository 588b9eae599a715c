// `purify` command line: one subcommand per file in tools/commands/.
const commands: Record<string, () => Promise<{ run(argv: string[]): Promise<void>; summary: string }>> = {
  adapters: () => import('./commands/adapters.ts'),
  bench: () => import('./commands/bench.ts'),
  convert: () => import('./commands/convert.ts'),
  train: () => import('./commands/train.ts'),
  run: () => import('./commands/run.ts'),
  demo: () => import('./commands/demo.ts'),
  sample: () => import('./commands/sample.ts'),
  'serve-demo': () => import('./commands/serve-demo.ts'),
  eval: () => import('./commands/eval.ts'),
};

async function main(): Promise<number> {
  const [name, ...argv] = process.argv.slice(2);
  if (!name || name === '--help' || name === 'help' || !(name in commands)) {
    console.log('usage: purify <command> [options]\n\ncommands:');
    for (const [n, load] of Object.entries(commands)) console.log(`  ${n.padEnd(12)} ${(await load()).summary}`);
    return name && name !== '--help' && name !== 'help' ? 2 : 0;
  }
  await (await commands[name]()).run(argv);
  return 0;
}

// dawn.node keeps the event loop alive, so every command ends with an explicit exit.
main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`purify: ${err instanceof Error ? err.message : err}`);
    if (process.env.PURIFY_DEBUG) console.error(err);
    process.exit(1);
  },
);
