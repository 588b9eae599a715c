import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { valueAndGrad } from '../../engine/index.ts';
import { sum } from '../../engine/ops/index.ts';
import { conv2d, convTranspose2d } from '../../engine/ops/conv.ts';
import * as ref from '../../engine/reference/conv.ts';
import { ParamSpecs, Params } from '../../engine/nn/params.ts';
import { Optimizer } from '../../engine/train/optimizer.ts';
import { assertClose, freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { download, randomNd, upload } from '../helpers/harness.ts';
import { opTable } from '../helpers/op-harness.ts';
import { CONV_CASES } from './cases/conv.ts';

opTable(CONV_CASES);

// Shapes and error messages only: any values do.
const random = rng(1);

test('shape errors are reported', async () => {
  const engine = await getEngine();
  if (!engine) return;
  engine.scope(() => {
    const x = upload(engine, randomNd(random, [1, 3, 5, 5]));
    const weight = (shape: number[]) => upload(engine, randomNd(random, shape));
    assert.throws(() => conv2d(x, weight([4, 2, 3, 3])), /3 channels/);
    assert.throws(() => conv2d(x, weight([4, 3, 7, 7])), /does not fit/);
    assert.throws(() => convTranspose2d(x, weight([3, 2, 2, 2]), undefined, { stride: 2, outputPadding: 2 }), /outputPadding/);
    assert.throws(() => conv2d(x, weight([4, 3, 3, 3]), weight([3])), /bias/);
  });
});

test('repeated conv forward + backward returns the pool to its starting live bytes', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const x = upload(engine, randomNd(random, [2, 3, 13, 13]));
  const w = upload(engine, randomNd(random, [8, 3, 3, 3]));
  const wt = upload(engine, randomNd(random, [8, 4, 2, 2]));
  const step = () => {
    const { value, grads } = valueAndGrad(engine, () => sum(convTranspose2d(conv2d(x, w, undefined, { stride: 2, padding: 1, activation: 'relu' }), wt, undefined, { stride: 2 })), [x, w, wt]);
    value.dispose();
    grads.forEach((g) => g.dispose());
  };
  // Warm up over a whole cycle of submit boundaries (64 dispatches) against the step's dispatch count.
  for (let i = 0; i < 100; i++) step();
  await engine.sync();
  const before = engine.stats();
  for (let i = 0; i < 200; i++) step();
  await engine.sync();
  const after = engine.stats();
  console.log(`    live bytes ${before.liveBytes} → ${after.liveBytes}, live tensors ${before.liveTensors} → ${after.liveTensors}, dispatches ${after.dispatches - before.dispatches}`);
  assert.is(after.liveBytes, before.liveBytes);
  assert.is(after.liveTensors, before.liveTensors);
  assert.is(after.allocations, before.allocations, 'a warm pool allocates nothing new');
});

test('the packed weight is made once per weight and remade after an in-place update', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const seed = freshSeed();
  const random = rng(seed);
  const specs = new ParamSpecs();
  specs.add('w', [5, 3, 3, 3], { normal: 1 });
  const params = Params.init(engine, specs, seed);
  const w = params.get('w');
  const xNd = randomNd(random, [2, 3, 9, 7]);
  const gNd = randomNd(random, [5, 3, 3, 3]);
  const x = upload(engine, xNd);
  const g = upload(engine, gNd);
  const optimizer = new Optimizer(params, { kind: 'sgd', lr: 0.5, momentum: 0 });
  const dispatchesOf = (fn: () => void) => {
    const before = engine.stats().dispatches;
    fn();
    return engine.stats().dispatches - before;
  };
  const check = async (label: string) => {
    const wNd = await download(w);
    const out = conv2d(x, w, undefined, { padding: 1 });
    assertClose(`seed ${seed}, ${label}`, await out.read(), ref.conv2d(xNd, wNd, undefined, { padding: 1 }).data, 1e-4);
    out.dispose();
  };
  const first = dispatchesOf(() => conv2d(x, w, undefined, { padding: 1 }).dispose());
  const again = dispatchesOf(() => conv2d(x, w, undefined, { padding: 1 }).dispose());
  assert.is(again, first - 1, 'the second conv with the same weight packs nothing');
  await check('before the update');
  optimizer.apply([g]);
  await check('after one SGD step written in place');
  const afterUpdate = dispatchesOf(() => conv2d(x, w, undefined, { padding: 1 }).dispose());
  assert.is(afterUpdate, again, 'after the repack the weight is cached again');
  optimizer.dispose();
  params.dispose();
  for (const t of [x, g]) t.dispose();
});

test('the software tuning reads weights through 64 KiB uniform windows, storage only where no block fits one', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const seen: string[] = [];
  const dispatch = engine.dispatch.bind(engine);
  engine.dispatch = (k, storage, ...rest) => {
    if (k.op === 'conv2d_forward' || k.op === 'conv2d_transposed') {
      const w = storage[1];
      seen.push(`${k.op.slice(7)} ${k.defines?.UNIFORM_WEIGHTS ? ('offset' in w ? `window@${w.offset}` : 'uniform') : 'storage'}`);
    }
    return dispatch(k, storage, ...rest);
  };
  const cases: [number[], number][] = [
    [[1, 48, 5, 6], 8], // 13.5 KiB either way round: one binding
    [[1, 48, 5, 6], 40], // 67.5 KiB: forward 4 + 1 blocks of 8 × 48 × 9 floats, input gradient 5 + 1 of 8 × 40 × 9
    [[1, 232, 3, 3], 8], // forward: one 8-channel block is 65.25 KiB, no window holds it; input gradient: 28 + 1 blocks
  ];
  try {
    engine.scope(() => {
      for (const [shape, cout] of cases) {
        const x = upload(engine, randomNd(random, shape));
        const w = upload(engine, randomNd(random, [cout, shape[1], 3, 3]));
        valueAndGrad(engine, () => sum(conv2d(x, w, undefined, { padding: 1 })), [x]);
      }
    });
  } finally {
    engine.dispatch = dispatch;
  }
  console.log(`    ${engine.tuning.name}: ${seen.join(', ')}`);
  if (!engine.tuning.conv.uniformWeights) {
    assert.ok(seen.every((s) => s.endsWith('storage')));
    return;
  }
  assert.equal(seen, [
    'forward uniform', 'transposed uniform',
    'forward window@0', 'forward window@55296', 'transposed window@0', 'transposed window@57600',
    'forward storage', 'transposed window@0', 'transposed window@64512',
  ]);
});

test.run();
