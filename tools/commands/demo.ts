import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { dataRoot, loadDataset } from '../../engine/data/datasets.ts';
import { imageGrid, type GridRow } from '../../engine/data/grid.ts';
import { classifierGradient } from '../../engine/attacks/objectives.ts';
import { pgd } from '../../engine/attacks/pgd.ts';
import { argmaxRows } from '../../engine/eval/predict.ts';
import { loadClassifier, loadDenoiser } from '../../engine/models/catalog.ts';
import { fingerprint } from './fingerprint.ts';
import { fromArray } from '../../engine/ops/index.ts';
import { purifyAndClassify } from '../../engine/purify/defended.ts';
import { PURIFY_DEFAULTS } from '../../engine/purify/defaults.ts';
import { assertModelsFit } from '../../engine/purify/session.ts';
import type { Method } from '../../engine/purify/purifier.ts';
import { ProgressBar } from '../progress.ts';
import { deviceOptions, engineFrom } from './options.ts';
import { purifyFlags, purifyOptionsFrom } from './purify-options.ts';
import { positiveInteger, UsageError } from './usage.ts';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...deviceOptions,
      ...purifyFlags,
      n: { type: 'string', default: '16' },
      methods: { type: 'string', default: 'agdm,diffpure' },
      classifier: { type: 'string', default: PURIFY_DEFAULTS.models.classifier },
      eps: { type: 'string', default: '0.3' },
      'attack-steps': { type: 'string', default: '40' },
      json: { type: 'string' },
      grid: { type: 'string', default: 'demo-out/demo-grid.png' },
      'grid-n': { type: 'string', default: '16' },
    },
  });
  const n = positiveInteger('n', values.n);
  const gridN = Math.min(n, positiveInteger('grid-n', values['grid-n']));
  const attackSteps = positiveInteger('attack-steps', values['attack-steps']);
  const eps = Number(values.eps);
  if (!(eps >= 0 && eps <= 1)) throw new UsageError(`--eps must be a number in [0, 1], got "${values.eps}"`);
  const methods = values.methods.split(',') as Method[];
  methods.forEach((m) => purifyOptionsFrom(values, m));
  // One seed for the attack and every purifier: fresh unless --seed is given, printed so a run can be replayed.
  const seed = purifyOptionsFrom(values, methods[0]).seed;
  const seeded = { ...values, seed: String(seed) };
  const data = loadDataset('mnist', 'test', { limit: n });
  if (data.n < n) throw new UsageError(`--n ${n}: only ${data.n} MNIST test images in ${dataRoot()}; set PURIFY_DATA to a folder with the full mnist/ files`);
  const engine = await engineFrom(values);
  const classifier = await loadClassifier(engine, values.classifier);
  const denoiser = await loadDenoiser(engine, values.denoiser);
  const guide = methods.includes('agdm') ? await loadClassifier(engine, values.guidance) : undefined;
  assertModelsFit({ denoiser, classifier, guidance: guide });
  const [c, h, w] = denoiser.imageShape;
  const labels = Array.from(data.labels);
  const correct = (pred: number[]) => pred.filter((p, i) => p === labels[i]).length / n;
  // The grid shows the first gridN images: enough to see what purification does, small enough to look at.
  const gridRow = (label: string, images: Float32Array, predictions: number[]): GridRow => ({
    label, images: images.subarray(0, gridN * c * h * w), n: gridN, c, h, w,
    captions: predictions.slice(0, gridN).map(String), correct: predictions.slice(0, gridN).map((p, i) => p === labels[i]),
  });

  const x = engine.keep(fromArray(engine, data.images, [n, c, h, w], 'mnist'));
  const clean = argmaxRows(await engine.scopeAsync(() => classifier.logits(x).read()), classifier.classes);
  const attackBar = new ProgressBar(`PGD-${attackSteps} on ${classifier.name} (L∞ ε=${eps})`, attackSteps);
  const adv = await pgd(x, classifierGradient(classifier, labels), { norm: 'linf', eps, steps: attackSteps, stepSize: 0.01, randomStart: true, seed, onStep: (d) => attackBar.update(d) });
  const attacked = argmaxRows(await engine.scopeAsync(() => classifier.logits(adv).read()), classifier.classes);
  const advPixels = await adv.read();

  // Per-image predictions go into the JSON so two defences can be compared image by image (paired).
  const rows: Record<string, unknown>[] = [{ method: 'none', clean: correct(clean), attacked: correct(attacked), msPerImage: 0, predictions: { clean, attacked } }];
  const grid: GridRow[] = [
    gridRow('clean', data.images, clean),
    gridRow('pgd', advPixels, attacked),
  ];
  for (const method of methods) {
    const opts = purifyOptionsFrom(seeded, method);
    const steps = opts.steps ?? opts.tStar;
    const results: Record<string, number[]> = {};
    let seconds = 0;
    let purifiedAdv: Float32Array = new Float32Array(0);
    for (const [name, input] of [['clean', x], ['attacked', adv]] as const) {
      const bar = new ProgressBar(`${method} on ${name} images (t*=${opts.tStar}, ${steps} steps)`, steps);
      const started = performance.now();
      const { seed: drawSeed, ...options } = opts;
      const pipeline = { classifier, defense: { denoiser, guide, options } };
      const r = await purifyAndClassify(pipeline, input, { seed: drawSeed, repeat: 0, firstIndex: 0 }, Number(values.repeats), (d) => bar.update(d));
      seconds += (performance.now() - started) / 1000;
      results[name] = r.predictions;
      if (name === 'attacked') purifiedAdv = r.purified!;
    }
    rows.push({ method, clean: correct(results.clean), attacked: correct(results.attacked), msPerImage: (1000 * seconds) / (2 * n), options: opts, predictions: results });
    grid.push(gridRow(method, purifiedAdv, results.attacked));
  }
  console.log(`\n${n} MNIST test images, ${classifier.name} attacked by PGD-${attackSteps} (L∞ ε=${eps}) on the bare classifier, on ${engine.gpu.adapterName}, seed ${seed}\n`);
  console.log('| defence | clean accuracy | attacked accuracy | time / image |\n|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.method} | ${(100 * (r.clean as number)).toFixed(1)} % | ${(100 * (r.attacked as number)).toFixed(1)} % | ${(r.msPerImage as number) ? `${(r.msPerImage as number).toFixed(0)} ms` : '-'} |`);
  mkdirSync(dirname(values.grid), { recursive: true });
  writeFileSync(values.grid, imageGrid(grid));
  console.log(`\ngrid (clean, attacked, purified attacked) written to ${values.grid}`);
  if (values.json) {
    const models = {
      classifier: `${classifier.name} (${await fingerprint(classifier.params)})`,
      denoiser: `${denoiser.name} (${await fingerprint(denoiser.params)})`,
      guidance: guide ? `${guide.name} (${await fingerprint(guide.params)})` : null,
    };
    const command = `purify demo ${argv.join(' ')}`;
    writeFileSync(values.json, JSON.stringify({ command, date: new Date().toISOString().slice(0, 10), n, eps, attackSteps, seed, adapter: engine.gpu.adapterName, models, labels, rows }) + '\n');
    console.log(`results written to ${values.json}`);
  }
  engine.destroy();
}
