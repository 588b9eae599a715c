import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { dawnGpu } from '../../engine/device.ts';
import { CIFAR_UNET_BATCHES, CIFAR_UNET_LABEL, kernelCases, modelCases } from '../bench/cases.ts';
import { dawnAdapterName, runTfjs, tfjsCases } from '../bench/tfjs.ts';
import { tfjsCifarUnetCase } from '../bench/tfjs-unet.ts';
import { runTorch } from '../bench/torch.ts';
import { poolBenchRecords } from '../bench/pool.ts';
import { formatTable, measure, type BenchRecord } from '../bench/measure.ts';
import { deviceOptions, engineFrom } from './options.ts';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ...deviceOptions, json: { type: 'string' }, filter: { type: 'string' }, repeats: { type: 'string', default: '7' }, tfjs: { type: 'boolean', default: false }, torch: { type: 'boolean', default: false }, pool: { type: 'boolean', default: false } },
  });
  const engine = await engineFrom(values);
  const wanted = (c: { op: string; shape: string }) => !values.filter || `${c.op} ${c.shape}`.includes(values.filter);
  const cases = [...kernelCases, ...modelCases()].filter(wanted);
  const records: BenchRecord[] = [];
  for (const [i, c] of cases.entries()) {
    process.stderr.write(`[${i + 1}/${cases.length}] ${c.op} ${c.shape}\n`);
    await c.prepare?.(engine);
    records.push(await measure(engine, c, Number(values.repeats)));
  }
  if (values.tfjs) {
    const name = engine.gpu.adapterName;
    // The UNet port needs the engine's weights and output, so it is built only when the filter keeps it.
    const unetBatches = CIFAR_UNET_BATCHES.filter((batch) => wanted({ op: `tfjs ${CIFAR_UNET_LABEL} UNet step`, shape: `batch ${batch}` }));
    const tfCases = tfjsCases.filter(wanted);
    for (const batch of unetBatches) tfCases.push(await tfjsCifarUnetCase(engine, batch));
    const tf = await runTfjs(name, await dawnGpu(values.adapter ?? dawnAdapterName(name)), Number(values.repeats), tfCases);
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
