// The black-box Square attack on the shipped MNIST classifier: it lowers accuracy at ε = 0.3 on a
// small query budget, stays in the ε-ball and [0, 1], is a function of its seed, and gives each
// image the same result whatever the batch split. Plus its window schedule and margin.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runAttack } from '../../engine/attacks/index.ts';
import { margins, windowFraction } from '../../engine/attacks/square.ts';
import { loadDataset } from '../../engine/data/datasets.ts';
import { argmaxRows } from '../../engine/eval/predict.ts';
import { loadClassifier } from '../../engine/models/catalog.ts';
import { fromArray } from '../../engine/ops/index.ts';
import { getEngine } from '../helpers/gpu.ts';

const N = 8;
const EPS = 0.3;
const QUERIES = 150;

test('window schedule halves p at the authors\' budget fractions; margin is z_y − max other', () => {
  assert.is(windowFraction(0.8, 0, 1000), 0.8);
  assert.is(windowFraction(0.8, 1, 1000), 0.8); // 10/10000 of the budget: still p_init
  assert.is(windowFraction(0.8, 2, 1000), 0.4);
  assert.is(windowFraction(0.8, 60, 1000), 0.05); // 600/10000 of the budget: fourth halving
  assert.is(windowFraction(0.8, 999, 1000), 0.8 / 512);
  const m = margins(Float32Array.of(1, 3, 2, 5, 0, 4), [1, 1], 3);
  assert.equal(Array.from(m), [1, -5]);
});

test('square: lowers the bare MNIST classifier\'s accuracy, stays in the ball and box, deterministic, batch-independent', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const classifier = await loadClassifier(engine, 'mnist-cnn');
  const data = loadDataset('mnist', 'test', { limit: N });
  const labels = Array.from(data.labels);
  const x = engine.keep(fromArray(engine, data.images, [N, 1, 28, 28]));
  const settings = { norm: 'linf' as const, eps: EPS, steps: QUERIES, eot: 1, seed: 5 };
  const attack = async (seed: number, batch: number) => {
    const out = new Float32Array(N * 784);
    for (let start = 0; start < N; start += batch) {
      const part = engine.keep(fromArray(engine, data.images.subarray(start * 784, (start + batch) * 784), [batch, 1, 28, 28]));
      const adv = await runAttack('square', { classifier }, part, labels.slice(start, start + batch), { ...settings, seed }, start);
      out.set(await adv.read(), start * 784);
      adv.dispose();
      part.dispose();
    }
    return out;
  };
  const accuracy = async (images: Float32Array) => {
    const logits = await engine.scopeAsync(() => classifier.logits(fromArray(engine, images, x.shape)).read());
    return argmaxRows(logits, 10).filter((p, i) => p === labels[i]).length / N;
  };
  const adv = await attack(5, N);
  const clean = await accuracy(data.images);
  const attacked = await accuracy(adv);
  console.log(`    mnist-cnn, ${N} images, ε = ${EPS}, ${QUERIES} queries: accuracy ${(100 * clean).toFixed(1)} % → ${(100 * attacked).toFixed(1)} %`);
  assert.ok(attacked <= clean - 0.25, `square lowered accuracy only from ${clean} to ${attacked}`);
  let worst = 0;
  adv.forEach((v, j) => {
    assert.ok(v >= 0 && v <= 1, `pixel ${j} = ${v} outside [0, 1]`);
    worst = Math.max(worst, Math.abs(v - data.images[j]));
  });
  assert.ok(worst <= EPS * (1 + 1e-6), `‖δ‖∞ = ${worst} > ε`);
  assert.equal(Array.from(await attack(5, N)), Array.from(adv), 'the same seed gave different images');
  assert.equal(Array.from(await attack(5, N / 2)), Array.from(adv), 'the batch split changed the result');
  assert.not.equal(Array.from(await attack(6, N)), Array.from(adv), 'another seed gave the same images');
  x.dispose();
});

test.run();
