import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { sample } from '../../engine/diffusion/sampler.ts';
import { imageGrid } from '../../engine/data/grid.ts';
import { loadDenoiser } from '../../engine/models/catalog.ts';
import { ProgressBar } from '../progress.ts';
import { deviceOptions, engineFrom } from './options.ts';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { ...deviceOptions, n: { type: 'string', default: '16' }, seed: { type: 'string', default: '0' }, denoiser: { type: 'string', default: 'franfee-mnist' }, out: { type: 'string', default: 'demo-out/samples.png' } },
  });
  const engine = await engineFrom(values);
  const denoiser = await loadDenoiser(engine, values.denoiser);
  const n = Number(values.n);
  const bar = new ProgressBar(`sampling ${n} images from ${denoiser.name}`, denoiser.schedule.T);
  const images = await (await sample(engine, denoiser, n, Number(values.seed), (d) => bar.update(d))).read();
  const [c, h, w] = denoiser.imageShape;
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, imageGrid([{ label: 'samples', images, n, c, h, w }]));
  console.log(`wrote ${values.out}`);
  engine.destroy();
}
