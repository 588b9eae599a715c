import { parseArgs } from 'node:util';
import { Engine, listAdapters, preferredAdapter } from '../../engine/index.ts';
import { deviceOptions } from './options.ts';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: deviceOptions });
  const adapters = await listAdapters({ backend: values.backend });
  const best = preferredAdapter(adapters);
  if (!adapters.length) console.log('no adapters found');
  for (const a of adapters) console.log(`${a === best ? '*' : ' '} ${a.name}  (backend ${a.backend}${a.software ? ', software' : ''})`);
  const engine = await Engine.create(values);
  console.log(`\nchosen: ${engine.describe()}`);
  console.log('choose another with --adapter NAME or PURIFY_ADAPTER=NAME (a substring of the name)');
  engine.destroy();
}
