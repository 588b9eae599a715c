// Row reductions (engine/ops/tuning.ts rowReduction): the GPU tuning combines a row's partial sums
// with subgroup operations where the device has the `subgroups` feature and with a workgroup tree
// where it does not. The op tables (softmax, norm tests) run every variant against float64; here:
// the fallback rule, that CI's adapter really runs the subgroup kernels (no silent fallback to the
// tree), and that their results do not change from run to run (which invocations share a subgroup
// is the driver's choice; the kernels read the per-subgroup values back in a fixed order).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { layerNormCHW } from '../../engine/ops/norm.ts';
import { logSoftmax } from '../../engine/ops/softmax.ts';
import { GPU_TUNING, SOFTWARE_TUNING, chooseTuning } from '../../engine/ops/tuning.ts';
import { layerNorm, logSoftmax as logSoftmaxReference } from '../../engine/reference/norm.ts';
import { assertClose, freshSeed, rng } from '../helpers/check.ts';
import { getEngines } from '../helpers/gpu.ts';
import { randomNd, upload } from '../helpers/harness.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);

test('the GPU tuning reduces with subgroups only where the device has them; SwiftShader gets unrolled tiles', () => {
  const gpu = { software: false, workgroupStorageBytes: 32768, subgroups: true, compilerUnrolls: true };
  assert.is(chooseTuning(gpu).rowReduction, 'subgroup');
  const fallback = chooseTuning({ ...gpu, subgroups: false });
  assert.is(fallback.rowReduction, 'tree');
  assert.match(fallback.name, /no subgroups: tree/);
  assert.is(chooseTuning({ ...gpu, software: true }).rowReduction, SOFTWARE_TUNING.rowReduction);
  assert.is(chooseTuning({ ...gpu, software: true }, 'gpu-tree').rowReduction, 'tree');
  assert.is(GPU_TUNING.rowReduction, 'subgroup');
  // SwiftShader's compiler does not unroll: it gets the software tiles with their loops expanded.
  assert.is(chooseTuning({ ...gpu, software: true, compilerUnrolls: false }).name, 'swiftshader');
  assert.is(chooseTuning({ ...gpu, software: true, compilerUnrolls: false }).unroll, true);
  assert.is(chooseTuning({ ...gpu, software: true }).unroll, false);
});

test('on an adapter with subgroups the gpu variant runs the subgroup kernels, to float64 and the same every run', async () => {
  const variants = await getEngines();
  const gpu = variants.find((v) => v.variant === 'gpu');
  if (!gpu) return;
  const { engine } = gpu;
  console.log(`    gpu variant on ${engine.gpu.adapterName}: subgroups ${engine.gpu.features.subgroups}, row reduction ${engine.tuning.rowReduction}`);
  assert.is(engine.tuning.rowReduction, engine.gpu.features.subgroups ? 'subgroup' : 'tree');
  // Rows longer than the workgroup and not a multiple of it, and rows shorter than it. Tolerance 1e-4
  // (the op tables' default): a normalised f32 entry carries ~1e-7 of the row's largest magnitude in
  // rounding, which is 1e-5 relative where the entry sits near the 1e-2 floor (CI seed 1606014359:
  // 1.28e-5); a wrong reduction is off by O(1).
  for (const shape of [[3, 5, 13, 17], [4, 1, 3, 3]]) {
    const x = randomNd(random, shape, 2);
    const gamma = randomNd(random, shape.slice(1));
    const beta = randomNd(random, shape.slice(1));
    const run = () => engine.scopeAsync(() => layerNormCHW(upload(engine, x), upload(engine, gamma), upload(engine, beta)).read());
    const first = await run();
    assertClose(`layer norm [${shape}] (${engine.tuning.rowReduction})`, first, layerNorm(x, gamma, beta).data);
    assert.equal(Array.from(await run()), Array.from(first), 'layer norm differs between two runs');
    const rows = randomNd(random, [shape[0] * shape[1], shape[2] * shape[3]], 4);
    const soft = () => engine.scopeAsync(() => logSoftmax(upload(engine, rows)).read());
    const logits = await soft();
    assertClose(`log-softmax [${rows.shape}] (${engine.tuning.rowReduction})`, logits, logSoftmaxReference(rows).data);
    assert.equal(Array.from(await soft()), Array.from(logits), 'log-softmax differs between two runs');
  }
});

test.run();
