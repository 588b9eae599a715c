// The Franfee MNIST DDPM against what its checkpoint is known to do (shared/data/README.md).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { ops } from '../../engine/index.ts';
import { loadDataset } from '../../engine/data/datasets.ts';
import { timestepEmbedding } from '../../engine/ops/embedding.ts';
import { loadDenoiser } from '../../engine/models/catalog.ts';
import { mseLoss } from '../../engine/ops/losses.ts';
import { valueAndGrad } from '../../engine/autograd.ts';
import { FRANFEE_MNIST } from '../../engine/models/franfee-unet.ts';
import { franfeeRef } from '../../engine/reference/franfee-unet.ts';
import { nd, type Nd } from '../../engine/reference/nd.ts';
import { compare, rng } from '../helpers/check.ts';
import { normalisedError } from '../helpers/error-bound.ts';
import { getEngine } from '../helpers/gpu.ts';
import { upload } from '../helpers/harness.ts';

const CHECKPOINT = new URL('../../../shared/data/weights/franfee-ddpm-mnist/model_unet_res.pth', import.meta.url).pathname;
const KNOWN_MSE: [number, number][] = [[10, 0.12], [50, 0.064], [100, 0.041], [200, 0.025]];

test('noise-prediction MSE on 256 MNIST test images matches the checkpoint (inputs in [0, 1])', async () => {
  const engine = await getEngine();
  if (!engine) return;
  if (!existsSync(CHECKPOINT)) {
    console.log(`  SKIP: ${CHECKPOINT} not present`);
    return;
  }
  const model = await loadDenoiser(engine, CHECKPOINT);
  const data = loadDataset('mnist', 'test', { limit: 256 });
  const x0 = ops.fromArray(engine, data.images, [256, 1, 28, 28]);
  for (const [t, expected] of KNOWN_MSE) {
    const mse = await engine.scopeAsync(async () => {
      const ab = model.schedule.alphaBars[t];
      const eps = ops.randomNormal(engine, x0.shape, { seed: 2024, stream: t });
      const xt = ops.add(ops.scale(x0, Math.sqrt(ab)), ops.scale(eps, Math.sqrt(1 - ab)));
      return (await mseLoss(model.predictEps(xt, new Array(256).fill(t)), eps).read())[0];
    });
    console.log(`    t=${t}: MSE ${mse.toFixed(4)} (known ≈ ${expected})`);
    assert.ok(Math.abs(mse - expected) / expected < 0.2, `MSE at t=${t}: ${mse} vs ≈${expected}`);
  }
  // The quirk, measured: [−1, 1] inputs are far worse.
  const worse = await engine.scopeAsync(async () => {
    const ab = model.schedule.alphaBars[100];
    const eps = ops.randomNormal(engine, x0.shape, { seed: 2024, stream: 100 });
    const xt = ops.add(ops.scale(ops.affine(x0, 2, -1), Math.sqrt(ab)), ops.scale(eps, Math.sqrt(1 - ab)));
    return (await mseLoss(model.predictEps(xt, new Array(256).fill(100)), eps).read())[0];
  });
  console.log(`    t=100 with [−1, 1] inputs: MSE ${worse.toFixed(3)}`);
  assert.ok(worse > 0.5);
  // The checkpoint's sinusoidal table equals the engine's timestep embedding kernel.
  const table = await model.params.get('pe.embedding.weight').read();
  const steps = [0, 1, 17, 500, 999];
  const generated = await timestepEmbedding(engine, steps, 128, 'interleaved').read();
  // The stored table carries PyTorch's own f32 argument rounding (≈6e-5 absolute), so compare absolutely.
  const diff = compare(generated, steps.flatMap((t) => Array.from(table.subarray(t * 128, (t + 1) * 128))));
  console.log(`    pe table vs timestep_embedding kernel: max abs ${diff.maxAbs.toExponential(2)}`);
  assert.ok(diff.maxAbs < 2e-4);
});

test('the shipped model\'s ε (fused conv epilogues) matches the float64 reference and the unfused recording path', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const model = await loadDenoiser(engine);
  const weights = new Map<string, Nd>();
  for (const { name } of model.params.specs.list) {
    const t = model.params.get(name);
    weights.set(name, nd([...t.shape], Float64Array.from(await t.read())));
  }
  const random = rng(5);
  const x = nd([2, 1, 28, 28], Float64Array.from({ length: 2 * 784 }, () => Math.fround(random())));
  const t = [3, 500];
  const expected = franfeeRef(weights, FRANFEE_MNIST, x, t);
  const xt = upload(engine, x);
  const fused = await engine.scopeAsync(async () => model.predictEps(xt, t).read());
  // 31 convs of up to 720 f32 terms between layer norms: rounding compounds to ~1e-6 of the output's norm.
  const error = normalisedError(fused, expected.data);
  console.log(`    fused forward vs float64: ‖y − ref‖/‖ref‖ = ${error.toExponential(2)}`);
  assert.ok(error < 2e-5, `fused forward: normalised error ${error}`);
  // Recording a gradient turns the fused epilogues off; the two paths sum in the same order.
  const unfused = await engine.scopeAsync(async () => valueAndGrad(engine, () => model.predictEps(xt, t), [xt]).value.read());
  const pathError = normalisedError(unfused, Array.from(fused));
  console.log(`    unfused (recording) vs fused: ‖Δ‖/‖y‖ = ${pathError.toExponential(2)}`);
  assert.ok(pathError < 1e-6, `fused and unfused paths differ: ${pathError}`);
});

test.run();
