import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { imageGrid } from '../../engine/data/grid.ts';
import { loadClassifier, loadDenoiser } from '../../engine/models/catalog.ts';
import { PURIFY_DEFAULTS } from '../../engine/purify/defaults.ts';
import { DEFAULT_MAX_PIXELS, type ImageBatch } from '../../engine/purify/input.ts';
import { Purifier } from '../../engine/purify/session.ts';
import { poolFlags, poolOptionsFromFlags, purifyOnPool } from '../../workers/pool.ts';
import { ProgressBar } from '../progress.ts';
import { inputFiles } from './input-files.ts';
import { deviceOptions, engineFrom } from './options.ts';
import { purifyFlags, purifyOptionsFrom } from './purify-options.ts';
import { positiveInteger, UsageError } from './usage.ts';

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...deviceOptions, ...purifyFlags, ...poolFlags,
      out: { type: 'string' },
      classifier: { type: 'string', default: PURIFY_DEFAULTS.models.classifier },
      batch: { type: 'string', default: '64' },
      fit: { type: 'boolean', default: false },
      'max-pixels': { type: 'string', default: String(DEFAULT_MAX_PIXELS) },
      json: { type: 'string' },
    },
  });
  if (!positionals.length || !values.out) throw new UsageError('purify run needs image files and --out DIR (see purify run --help)');
  // Everything is checked before a device opens, a model loads or a file is written.
  const opts = purifyOptionsFrom(values);
  const batch = positiveInteger('batch', values.batch);
  const maxPixels = positiveInteger('max-pixels', values['max-pixels']);
  const files = inputFiles(positionals);
  const pool = poolOptionsFromFlags(values, { denoiser: values.denoiser, guidance: opts.method === 'agdm' ? values.guidance : undefined });

  const engine = await engineFrom(values);
  const models = {
    denoiser: await loadDenoiser(engine, values.denoiser),
    guidance: opts.method === 'agdm' ? await loadClassifier(engine, values.guidance) : undefined,
    classifier: values.classifier === 'none' ? undefined : await loadClassifier(engine, values.classifier),
  };
  const purifier = new Purifier(engine, models, { ...opts, batch, fit: values.fit, maxPixels });
  const inputs = purifier.prepare(files.map((f) => new Uint8Array(readFileSync(f.path))), files.map((f) => f.path));
  const [n, c, h, w] = inputs.shape;

  const started = performance.now();
  let purified: ImageBatch & { labels: number[] | null };
  if (pool) {
    let bar: ProgressBar | undefined;
    const { onStep: _, signal: __, ...request } = opts;
    const { data: images } = await purifyOnPool(pool, inputs.data, inputs.shape, request, {
      onProgress: (p) => (bar ??= new ProgressBar(`purify ${n} images on ${values.workers} worker(s) per adapter (${opts.method}, t*=${opts.tStar}), steps`, p.total)).update(p.done),
    });
    purified = { data: images, shape: inputs.shape, labels: models.classifier ? await purifier.classify({ data: images, shape: inputs.shape }) : null };
  } else {
    const bar = new ProgressBar(`purify ${n} image${n === 1 ? '' : 's'} (${opts.method}, t*=${opts.tStar}), steps`, (opts.steps ?? opts.tStar) * Math.ceil(n / batch));
    const result = await purifier.purify(inputs, { onStep: (done) => bar.update(done) });
    purified = { data: result.images, shape: result.shape, labels: result.labels };
  }
  const seconds = (performance.now() - started) / 1000;
  const before = models.classifier ? await purifier.classify(inputs) : null;

  mkdirSync(values.out, { recursive: true });
  const per = c * h * w;
  files.forEach((f, i) => {
    const out = join(values.out!, f.output);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, purifier.png({ images: purified.data, shape: purified.shape, labels: null, options: opts }, i));
  });
  const grid = imageGrid([
    { label: 'input', images: inputs.data, n, c, h, w, captions: before?.map(String) },
    { label: opts.method, images: purified.data.subarray(0, n * per), n, c, h, w, captions: purified.labels?.map(String) },
  ]);
  writeFileSync(join(values.out, 'grid.png'), grid);
  if (before && purified.labels) files.forEach((f, i) => console.log(`${f.path}: ${models.classifier!.name} predicts ${before[i]} before, ${purified.labels![i]} after purification`));
  if (values.json) {
    const { agdm, ...options } = opts;
    const images = files.map((f, i) => ({ input: f.path, output: join(values.out!, f.output), before: before?.[i] ?? null, after: purified.labels?.[i] ?? null }));
    writeFileSync(values.json, JSON.stringify({ command: `purify run ${argv.join(' ')}`, adapter: engine.gpu.adapterName, classifier: models.classifier?.name ?? null, options: { ...options, ...(opts.method === 'agdm' && { agdm }) }, seconds, images }, null, 2) + '\n');
  }
  console.log(`purified ${n} images (seed ${opts.seed}) in ${seconds.toFixed(1)} s (${((1000 * seconds) / n).toFixed(0)} ms/image); wrote ${n} images under ${values.out}/ and grid.png${values.json ? `, ${values.json}` : ''}`);
  engine.destroy();
}
