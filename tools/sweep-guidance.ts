// Measures clean and attacked accuracy of a guided purifier (agdm, or gdmp with either distance) over
// guidance scales, with diffpure as the unguided reference, to choose the defaults. Attack: PGD on
// the bare classifier (the demo's setting). It tunes only on images no evaluation scores
// (engine/eval/tuning-split.ts): MNIST test images 5,000–9,999 (the default, from 5,000) or
// training images; a range reaching into the evaluation images is refused before anything runs.
// The images used are printed and recorded in --md and --json.
// Usage: node --import tsx tools/sweep-guidance.ts [--method agdm|gdmp] [--gdmp-distance mse|ssim]
//        [--split test|train] [--start 5000] [--n 32] [--scales 0,30,100,300] [--tstar N]
//        [--variants both|latent] [--md FILE] [--json FILE]
import { parseArgs } from 'node:util';
import { classifierGradient } from '../engine/attacks/objectives.ts';
import { pgd } from '../engine/attacks/pgd.ts';
import { loadDataset, type DatasetSplit } from '../engine/data/datasets.ts';
import { EVALUATION_RANGE, TUNING_TEST_RANGE, checkTuningRange, describeRange, type ImageRange } from '../engine/eval/tuning-split.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { classifierPath, loadClassifier, loadDenoiser } from '../engine/models/catalog.ts';
import { fromArray } from '../engine/ops/index.ts';
import { purifyAndClassify } from '../engine/purify/defended.ts';
import { PURIFY_DEFAULTS } from '../engine/purify/defaults.ts';
import type { PurifyOptions } from '../engine/purify/purifier.ts';
import { GDMP_DISTANCES, type GdmpDistance } from '../engine/purify/guidance.ts';
import { sha256Hex } from './commands/fingerprint.ts';
import { engineFrom } from './commands/options.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '32' },
    split: { type: 'string', default: 'test' },
    start: { type: 'string' },
    json: { type: 'string' },
    scales: { type: 'string', default: '0,30,100,300' },
    method: { type: 'string', default: 'agdm' },
    'gdmp-distance': { type: 'string', default: 'mse' },
    tstar: { type: 'string' },
    variants: { type: 'string', default: 'both' },
    md: { type: 'string' },
    seed: { type: 'string', default: '0' },
  },
});
const n = Number(values.n);
const ATTACK = { norm: 'linf' as const, eps: 0.3, steps: 40, stepSize: 0.01, seed: 1 };
const split = values.split as DatasetSplit;
if (split !== 'test' && split !== 'train') throw new Error(`--split must be test or train, got "${values.split}"`);
const start = Number(values.start ?? (split === 'test' ? TUNING_TEST_RANGE.start : 0));
const range: ImageRange = { split, start, end: start + n };
checkTuningRange(range);
const method = values.method as 'agdm' | 'gdmp';
if (method !== 'agdm' && method !== 'gdmp') throw new Error(`--method must be agdm or gdmp, got "${method}"`);
const gdmpDistance = values['gdmp-distance'] as GdmpDistance;
if (!GDMP_DISTANCES.includes(gdmpDistance)) throw new Error(`--gdmp-distance must be ${GDMP_DISTANCES.join(' or ')}`);
const tStar = Number(values.tstar ?? PURIFY_DEFAULTS.methods[method].tStar);
const label = method === 'gdmp' ? `gdmp (${gdmpDistance})` : 'agdm';
const loaded = loadDataset('mnist', split, { limit: range.end });
if (loaded.n < range.end) throw new Error(`${describeRange(range)}: the data folder has only ${loaded.n} MNIST ${split} images (set PURIFY_DATA)`);
const data = { images: loaded.images.subarray(start * 784, range.end * 784), labels: loaded.labels.slice(start, range.end) };
const tunedOn = `tuned on ${describeRange(range)} (never evaluated: evaluations use ${describeRange(EVALUATION_RANGE)})`;
console.log(tunedOn);
const engine = await engineFrom({}, true);
const classifier = await loadClassifier(engine, 'mnist-cnn');
const guide = method === 'agdm' ? await loadClassifier(engine, 'mnist-guidance') : undefined;
// Which c_φ a sweep measured: a default tuned for one guidance network says little about another.
const guideSha256 = guide ? sha256Hex(readFileSync(classifierPath('mnist-guidance'))) : null;
const guideText = guideSha256 ? ` Guidance network \`mnist-guidance\` (sha256 ${guideSha256.slice(0, 12)}).` : '';
const denoiser = await loadDenoiser(engine);
const labels = Array.from(data.labels);
const x = engine.keep(fromArray(engine, data.images, [n, 1, 28, 28]));
const adv = await pgd(x, classifierGradient(classifier, labels), { ...ATTACK, randomStart: true });
const acc = (p: number[]) => p.filter((v, i) => v === labels[i]).length / n;

const variants: { name: string; opts: Partial<PurifyOptions> }[] = [];
for (const s of values.scales.split(',').map(Number)) {
  if (method === 'gdmp') variants.push({ name: `${label} s=${s}`, opts: { scale: s, gdmpDistance } });
  else if (values.variants !== 'latent') variants.push({ name: `agdm s=${s} (both terms)`, opts: { scale: s } });
  if (method === 'agdm' && values.variants !== 'both' && s > 0) variants.push({ name: `agdm s=${s} (latent term only)`, opts: { scale: s, agdm: { classWeight: 0 } } });
}
const rows: string[] = [];
const records: { purifier: string; tStar: number; clean: number; attacked: number; secondsPerImage: number }[] = [];
console.log(`| purifier | t* | clean | attacked | s/image |\n|---|---|---|---|---|`);
for (const v of [...variants, { name: 'diffpure', opts: { method: 'diffpure' as const, tStar: 100 } }]) {
  const options = { method, tStar, ...v.opts };
  const pipeline = { classifier, defense: { denoiser, guide, options } };
  const draw = { seed: Number(values.seed), repeat: 0, firstIndex: 0 };
  const t0 = performance.now();
  const clean = await purifyAndClassify(pipeline, x, draw);
  const attacked = await purifyAndClassify(pipeline, adv, draw);
  const r = { purifier: v.name, tStar: options.tStar, clean: acc(clean.predictions), attacked: acc(attacked.predictions), secondsPerImage: (performance.now() - t0) / 2000 / n };
  const row = `| ${r.purifier} | ${r.tStar} | ${(100 * r.clean).toFixed(1)} % | ${(100 * r.attacked).toFixed(1)} % | ${r.secondsPerImage.toFixed(2)} |`;
  console.log(row);
  rows.push(row);
  records.push(r);
}
if (values.md) writeFileSync(values.md, `${tunedOn[0].toUpperCase()}${tunedOn.slice(1)}.${guideText}\n\n| purifier | t* | clean | attacked | s/image |\n|---|---|---|---|---|\n${rows.join('\n')}\n`);
if (values.json) writeFileSync(values.json, JSON.stringify({ dataset: 'mnist', images: range, evaluationImages: EVALUATION_RANGE, attack: { name: 'pgd', ...ATTACK }, guidanceSha256: guideSha256, seed: Number(values.seed), rows: records }, null, 2) + '\n');
process.exit(0);
