// The akamaster CIFAR-10 ResNets against their known behaviour (shared/data/README.md).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadDataset } from '../../engine/data/datasets.ts';
import { accuracy, predictAll } from '../../engine/eval/predict.ts';
import { loadClassifier } from '../../engine/models/catalog.ts';
import { getEngine } from '../helpers/gpu.ts';

test('ResNet-20 and ResNet-56 classify all 20 lossless CIFAR-10 images correctly', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const data = loadDataset('cifar10-lossless', 'test');
  for (const name of ['resnet20', 'resnet56']) {
    const model = await loadClassifier(engine, name);
    const predicted = await predictAll(engine, model, data.images, data.n);
    console.log(`    ${name}: ${predicted.filter((p, i) => p === data.labels[i]).length}/${data.n}`);
    assert.equal(predicted, Array.from(data.labels));
    model.params.dispose();
  }
});

test('ResNet-20 reaches about 81 % on (class-balanced) JPEG test images', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const n = Number(process.env.PURIFY_CIFAR_JPEG_N ?? 1000);
  const data = loadDataset('cifar10-jpeg', 'test', { limit: n });
  const model = await loadClassifier(engine, 'resnet20');
  const acc = accuracy(await predictAll(engine, model, data.images, data.n), data.labels);
  console.log(`    resnet20 on ${data.n} JPEG images: ${(100 * acc).toFixed(1)} % (81.0 % measured on all 10,000)`);
  assert.ok(acc > 0.76 && acc < 0.87, `accuracy ${acc}`);
});

test.run();
