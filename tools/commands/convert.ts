import { parseArgs } from 'node:util';
import { convert } from '../convert.ts';

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { f16: { type: 'boolean', default: false }, 'strip-prefix': { type: 'string' } },
  });
  if (positionals.length !== 2) throw new Error('usage: purify convert IN OUT [--f16] [--strip-prefix module.]');
  const [input, output] = positionals;
  const result = await convert(input, output, { f16: values.f16, stripPrefix: values['strip-prefix'] });
  console.log(`${output}: ${result.tensorCount} tensors, ${result.outputBytes} bytes (source sha256 ${result.sourceSha256})`);
}
