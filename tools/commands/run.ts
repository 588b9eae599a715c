import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { imageGrid } from '../../engine/data/grid.ts';
import { assertValidImage, readImageFile, writeImageFile } from '../../engine/data/image-io.ts';
import { argmaxRows } from '../../engine/eval/predict.ts';
import { loadClassifier, loadDenoiser } from '../../engine/models/catalog.ts';
import { fromArray } from '../../engine/ops/index.ts';
import { purify } from '../../engine/purify/purifier.ts';
import { poolFlags, poolOptionsFromFlags, purifyOnPool } from '../../workers/pool.ts';
import { ProgressBar } from '../progress.ts';
import { deviceOptions, engineFrom } from './options.ts';
import { purifyFlags, purifyOptionsFrom } from './purify-options.ts';

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...deviceOptions, ...purifyFlags, ...poolFlags, out: { type: 'string' }, classifier: { type: 'string', default: 'mnist-cnn' }, batch: { type: 'string', default: '64' } },
  });
  if (!positionals.length || !values.out) throw new Error('usage: purify run IN.png... --out DIR [options]');
  const opts = purifyOptionsFrom(values);
  const engine = await engineFrom(values);
  const denoiser = await loadDenoiser(engine, values.denoiser);
  const [c, h, w] = denoiser.imageShape;
  const per = c * h * w;
  // Read and validate everything first: a bad file fails the run before any work is done.
  const inputs = positionals.map((path) => {
    const img = readImageFile(path);
    if (img.c !== c || img.h !== h || img.w !== w) throw new Error(`${path}: ${img.c}×${img.h}×${img.w} image, but ${denoiser.name} purifies ${c}×${h}×${w}`);
    assertValidImage(img.data, [c, h, w]);
    return img.data;
  });
  const guide = opts.method === 'agdm' ? await loadClassifier(engine, values.guidance) : undefined;
  const classifier = await loadClassifier(engine, values.classifier).catch(() => undefined);
  mkdirSync(values.out, { recursive: true });
  const batch = Number(values.batch);
  const all = new Float32Array(inputs.length * per);
  inputs.forEach((d, i) => all.set(d, i * per));
  let purifiedAll: Float32Array = new Float32Array(all.length);
  const started = performance.now();
  const pool = poolOptionsFromFlags(values, { denoiser: values.denoiser, guidance: opts.method === 'agdm' ? values.guidance : undefined });
  if (pool) {
    const bar = new ProgressBar(`purify ${inputs.length} images on ${values.workers} worker(s) per adapter (${opts.method}, t*=${opts.tStar})`, 1);
    const { onStep: _, signal: __, ...request } = opts;
    purifiedAll = await purifyOnPool(pool, all, [inputs.length, c, h, w], request, { onProgress: (p) => bar.update(p.done / p.total) });
    bar.update(1);
  }
  for (let start = 0; !pool && start < inputs.length; start += batch) {
    const count = Math.min(batch, inputs.length - start);
    const bar = new ProgressBar(`purify ${start + 1}-${start + count}/${inputs.length} (${opts.method}, t*=${opts.tStar})`, opts.steps ?? opts.tStar);
    const pixels = await engine.scopeAsync(async () => {
      const x = fromArray(engine, all.subarray(start * per, (start + count) * per), [count, c, h, w], 'inputs');
      const y = await purify(denoiser, x, { ...opts, firstIndex: start, onStep: (d) => bar.update(d) }, guide);
      return y.read();
    });
    purifiedAll.set(pixels, start * per);
  }
  const seconds = (performance.now() - started) / 1000;
  positionals.forEach((path, i) => writeImageFile(join(values.out!, basename(path).replace(/\.[^.]*$/, '') + '.purified.png'), purifiedAll.subarray(i * per, (i + 1) * per), c as 1 | 3, h, w));
  let captions: { before?: string[]; after?: string[] } = {};
  if (classifier) {
    const predict = async (data: Float32Array) => engine.scopeAsync(async () => argmaxRows(await classifier.logits(fromArray(engine, data, [inputs.length, c, h, w])).read(), classifier.classes));
    const before = await predict(all);
    const after = await predict(purifiedAll);
    captions = { before: before.map(String), after: after.map(String) };
    positionals.forEach((p, i) => console.log(`${p}: ${classifier.name} predicts ${before[i]} before, ${after[i]} after purification`));
  }
  const grid = imageGrid([
    { label: 'input', images: all, n: inputs.length, c, h, w, captions: captions.before },
    { label: opts.method, images: purifiedAll, n: inputs.length, c, h, w, captions: captions.after },
  ]);
  writeFileSync(join(values.out, 'grid.png'), grid);
  console.log(`purified ${inputs.length} images in ${seconds.toFixed(1)} s (${((1000 * seconds) / inputs.length).toFixed(0)} ms/image); wrote ${values.out}/*.purified.png and grid.png`);
  engine.destroy();
}
