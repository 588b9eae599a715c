import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dawnGpu } from '../../engine/device.ts';
import { kernelCases, modelCases } from '../bench/cases.ts';
import { runTfjs } from '../bench/tfjs.ts';
import { runTorch } from '../bench/torch.ts';
import { poolBenchRecords } from '../bench/pool.ts';
import { formatTable, measure, type BenchRecord } from '../bench/measure.ts';
import { deviceOptions, engineFrom } from './options.ts';

/** Dawn's adapter names are shorter than adapter.info.description; match on the driver's first word. */
const preferredName = (description: string) => description.split(/[: ]/)[0];

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ...deviceOptions, json: { type: 'string' }, filter: { type: 'string' }, repeats: { type: 'string', default: '7' }, tfjs: { type: 'boolean', default: false }, torch: { type: 'boolean', default: false }, pool: { type: 'boolean', default: false } },
  });
  const engine = await engineFrom(values);
  const cases = [...kernelCases, ...modelCases()].filter((c) => !values.filter || `${c.op} ${c.shape}`.includes(values.filter));
  const records: BenchRecord[] = [];
  for (const [i, c] of cases.entries()) {
    process.stderr.write(`[${i + 1}/${cases.length}] ${c.op} ${c.shape}\n`);
    await c.prepare?.(engine);
    records.push(await measure(engine, c, Number(values.repeats)));
  }
  if (values.tfjs) {
    const name = engine.gpu.adapterName;
    const tf = await runTfjs(name, await dawnGpu(values.adapter ?? preferredName(name)), Number(values.repeats));
    if (tf) records.push(...tf);
    else console.error('TensorFlow.js is not installed (npm i -D @tensorflow/tfjs-core @tensorflow/tfjs-backend-webgpu); skipping --tfjs');
  }
  if (values.torch) {
    const torch = runTorch([1, 16, 64]);
    if (torch) records.push(...torch);
    else console.error('no python3 with torch (Debian: apt-get install python3-torch); skipping --torch');
  }
  if (values.pool) records.push(...(await poolBenchRecords({ adapters: values.adapter ? [values.adapter] : undefined })));
  console.log(formatTable(records));
  if (values.json) {
    writeFileSync(values.json, JSON.stringify(records, null, 2) + '\n');
    console.error(`wrote ${values.json}`);
  }
  engine.destroy();
}
