// How far the held-constant AGDM gradient (guidance g and c_φ(x′) treated as constants) is from the
// exact one (the tape differentiates g: engine/attacks/full-gradient.ts), on the shipped models at
// the shipped agdm defaults: per image, the cosine between the two gradients of the classifier's
// cross-entropy at the purified image and the norm ratio ‖held‖ / ‖exact‖, for one noise draw.
// Usage: node --import tsx tools/agdm-gradient-gap.ts [--n 4] [--first 0] [--seed 0] [--tstar 70]
//        [--guidance NAME|FILE]
import { parseArgs } from 'node:util';
import { fullGradientSample, type GuidanceGradient } from '../engine/attacks/full-gradient.ts';
import type { DefendedPipeline } from '../engine/purify/defended.ts';
import { loadDataset } from '../engine/data/datasets.ts';
import { loadClassifier, loadDenoiser } from '../engine/models/catalog.ts';
import { fromArray } from '../engine/ops/index.ts';
import { resolvePurifyOptions } from '../engine/purify/defaults.ts';
import { engineFrom } from './commands/options.ts';

const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '4' },
    first: { type: 'string', default: '0' },
    seed: { type: 'string', default: '0' },
    tstar: { type: 'string' },
    guidance: { type: 'string', default: 'mnist-guidance' },
  },
});
const n = Number(values.n);
const first = Number(values.first);
const engine = await engineFrom({}, true);
const data = loadDataset('mnist', 'test', { limit: first + n });
const size = 28 * 28;
const images = data.images.slice(first * size, (first + n) * size);
const labels = Array.from(data.labels.slice(first, first + n));
const { seed: _unused, ...options } = resolvePurifyOptions({ method: 'agdm', ...(values.tstar ? { tStar: Number(values.tstar) } : {}) });
const p: DefendedPipeline = {
  classifier: await loadClassifier(engine, 'mnist-cnn'),
  defense: { denoiser: await loadDenoiser(engine), guide: await loadClassifier(engine, values.guidance), options },
};
const x = engine.keep(fromArray(engine, images, [n, 1, 28, 28]));
// An attack's draw (repeat ≥ 1), as EOT would take it.
const draw = { seed: Number(values.seed), repeat: 1, firstIndex: first };

async function gradient(mode: GuidanceGradient): Promise<{ grad: Float32Array; loss: number[]; seconds: number }> {
  const t0 = performance.now();
  const r = await fullGradientSample(p, labels, 'ce', mode)(x, draw);
  const grad = await r.grad.read();
  r.grad.dispose();
  return { grad, loss: Array.from(r.loss), seconds: (performance.now() - t0) / 1000 };
}

const exact = await gradient('exact');
const held = await gradient('held');
console.log(`agdm t* = ${options.tStar}, s = ${options.scale}, seed ${draw.seed}; MNIST test images ${first}–${first + n - 1}; loss: cross-entropy of mnist-cnn at the purified image`);
console.log(`gradient time for the batch: exact ${exact.seconds.toFixed(1)} s, held ${held.seconds.toFixed(1)} s\n`);
console.log('| image | label | loss | cosine(held, exact) | ‖held‖ / ‖exact‖ |\n|---|---|---|---|---|');
for (let i = 0; i < n; i++) {
  const e = exact.grad.subarray(i * size, (i + 1) * size);
  const h = held.grad.subarray(i * size, (i + 1) * size);
  const dot = e.reduce((s, v, j) => s + v * h[j], 0);
  const ne = Math.hypot(...e);
  const nh = Math.hypot(...h);
  console.log(`| ${first + i} | ${labels[i]} | ${exact.loss[i].toExponential(2)} | ${(dot / (ne * nh)).toFixed(3)} | ${(nh / ne).toFixed(3)} |`);
}
// Dawn keeps the process alive otherwise.
process.exit(0);
