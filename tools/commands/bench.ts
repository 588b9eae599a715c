import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { kernelCases } from '../bench/cases.ts';
import { formatTable, measure, type BenchRecord } from '../bench/measure.ts';
import { deviceOptions, engineFrom } from './options.ts';

export const summary = 'time kernels and model steps: bench [--adapter NAME] [--filter TEXT] [--repeats N] [--json FILE]';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ...deviceOptions, json: { type: 'string' }, filter: { type: 'string' }, repeats: { type: 'string', default: '7' } },
  });
  const engine = await engineFrom(values);
  const cases = kernelCases.filter((c) => !values.filter || `${c.op} ${c.shape}`.includes(values.filter));
  const records: BenchRecord[] = [];
  for (const [i, c] of cases.entries()) {
    process.stderr.write(`[${i + 1}/${cases.length}] ${c.op} ${c.shape}\n`);
    records.push(await measure(engine, c, Number(values.repeats)));
  }
  console.log(formatTable(records));
  if (values.json) {
    writeFileSync(values.json, JSON.stringify(records, null, 2) + '\n');
    console.error(`wrote ${values.json}`);
  }
  engine.destroy();
}
