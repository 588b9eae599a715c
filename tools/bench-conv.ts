// Kernel lab for the conv passes (shaders/conv2d.wgsl): checks each pass against the float64
// reference on a small odd shape, then times forward, input gradient (the TRANSPOSED pass, i.e.
// convTranspose2d) and weight gradient on conv3×3 64→64, 32×32, batch 8, pad 1.
// Usage: node --import tsx tools/bench-conv.ts [CxP ...]   (register tiles to compare, e.g. 8x8 4x8)
import { Engine } from '../engine/index.ts';
import { fromArray } from '../engine/ops/common.ts';
import { conv2d, conv2dWeightGrad, convKernel, convKernels, convTranspose2d } from '../engine/ops/conv.ts';
import { convTiling, setConvTiling, type ConvTile } from '../engine/ops/conv-tuning.ts';
import * as ref from '../engine/reference/conv.ts';
import { nd, type Nd } from '../engine/reference/nd.ts';
import type { Tensor } from '../engine/tensor.ts';

const REPEATS = 7;
const WARMUP = 2;

const engine = await Engine.create();
console.log(`adapter: ${engine.describe()}`);

let seed = 12345;
const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
const randomNd = (shape: number[]) => nd(shape, Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.fround(random())));
const upload = (x: Nd) => fromArray(engine, Float32Array.from(x.data), x.shape);

function maxRelError(got: Float32Array, want: Nd): number {
  const scale = Math.max(...want.data.map(Math.abs));
  return got.reduce((m, v, i) => Math.max(m, Math.abs(v - want.data[i]) / Math.max(Math.abs(want.data[i]), 1e-2 * scale)), 0);
}

async function validate(stride: number): Promise<void> {
  const x = randomNd([3, 10, 13, 11]), w = randomNd([20, 10, 3, 3]), b = randomNd([20]);
  const opts = { stride, padding: 1 };
  const y = ref.conv2d(x, w, b, opts);
  const g = randomNd(y.shape);
  const grads = ref.conv2dBackward(x, w, g, opts);
  const [xt, wt, bt, gt] = [x, w, b, g].map(upload);
  const dx = convTranspose2d(gt, wt, undefined, { stride, padding: 1, outputPadding: x.shape[2] - ((y.shape[2] - 1) * stride - 2 + 3) });
  const errors = [
    maxRelError(await conv2d(xt, wt, bt, opts).read(), y),
    maxRelError(await dx.read(), grads.dx),
    maxRelError(await conv2dWeightGrad(xt, w.shape, gt, opts).read(), grads.dw),
  ];
  console.log(`check stride ${stride} [3,10,13,11]→20: max rel error forward ${errors[0].toExponential(1)}, input grad ${errors[1].toExponential(1)}, weight grad ${errors[2].toExponential(1)}`);
  if (errors.some((e) => !(e < 1e-4))) throw new Error('conv kernels disagree with the float64 reference');
}

async function time(run: () => Tensor): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < WARMUP + REPEATS; i++) {
    await engine.sync();
    const start = performance.now();
    const out = run();
    await engine.sync();
    if (i >= WARMUP) samples.push(performance.now() - start);
    out.dispose();
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)];
}

async function benchmark(): Promise<void> {
  const [N, C, H, W] = [8, 64, 32, 32];
  const x = upload(randomNd([N, C, H, W])), w = upload(randomNd([C, C, 3, 3])), g = upload(randomNd([N, C, H, W]));
  const flops = 2 * N * C * H * W * C * 9;
  const rows: [string, () => Tensor][] = [
    ['forward', () => conv2d(x, w, undefined, { padding: 1 })],
    ['input grad', () => convTranspose2d(g, w, undefined, { padding: 1 })],
    ['weight grad', () => conv2dWeightGrad(x, w.shape, g, { padding: 1 })],
  ];
  const tiling = convTiling();
  for (const [op, run] of rows) {
    const ms = await time(run);
    const tile = op === 'forward' ? tiling.forward : op === 'input grad' ? tiling.transposed : tiling.weightGrad;
    console.log(`${op.padEnd(12)} ${`${N}×${C}×${H}×${W} k3 → ${C}`.padEnd(22)} tile ${tile.channels}x${4 * tile.vec4Pixels}  ${ms.toFixed(1).padStart(7)} ms  ${(flops / ms / 1e6).toFixed(2).padStart(6)} GFLOP/s`);
  }
  for (const t of [x, w, g]) t.dispose();
}

const tiles: ConvTile[] = process.argv.slice(2).map((arg) => {
  const m = arg.match(/^(\d+)x(\d+)$/);
  if (!m || Number(m[2]) % 4) throw new Error(`tile "${arg}": expected CxP with P a multiple of 4`);
  return { channels: Number(m[1]), vec4Pixels: Number(m[2]) / 4 };
});

const compileStart = performance.now();
await engine.precompile(convKernels());
console.log(`precompiled ${convKernels().length} conv kernels in ${((performance.now() - compileStart) / 1000).toFixed(1)} s`);
for (const tile of tiles.length ? tiles : [null]) {
  if (tile) {
    setConvTiling({ ...convTiling(), forward: tile, transposed: tile, weightGrad: tile });
    await engine.precompile((['forward', 'transposed', 'weightGrad'] as const).flatMap((pass) => [1, 2].map((s) => convKernel(pass, 3, 3, s))));
  }
  await validate(1);
  await validate(2);
  console.log(`op           shape                  tile        ms      GFLOP/s`);
  await benchmark();
}
engine.destroy();
process.exit(0);
