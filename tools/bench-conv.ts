// Kernel lab for the conv passes (shaders/conv2d.wgsl): checks each pass against the float64
// reference on a small odd shape, then times forward, input gradient (the TRANSPOSED pass, which
// conv2d's backward launches as convTranspose2d does) and weight gradient on conv3×3 64→64,
// 32×32, batch 8, pad 1: median of 7 runs after 2 warm-ups, synced before and after each.
// Usage: node --import tsx tools/bench-conv.ts [CxP ...]   (register tiles to compare, e.g. 8x8 4x16)
//        node --import tsx tools/bench-conv.ts --sweep [CxP ...]   (forward tiles × the Franfee UNet's conv shapes)
import { loadavg } from 'node:os';
import { Engine } from '../engine/index.ts';
import { fromArray } from '../engine/ops/common.ts';
import { conv2d, conv2dWeightGrad, convKernels, convTranspose2d } from '../engine/ops/conv.ts';
import { withConvTile, type ConvTile } from '../engine/ops/tuning.ts';
import * as ref from '../engine/reference/conv.ts';
import { nd, type Nd } from '../engine/reference/nd.ts';
import type { Tensor } from '../engine/tensor.ts';
import { compare, randn, rng } from '../test/helpers/check.ts';

const REPEATS = 7;
const WARMUP = 2;

let engine = await Engine.create();
console.log(`adapter: ${engine.describe()}`);
// Other processes on a shared 2-core machine slow every number below; the load average tells.
console.log(`load average: ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);

const random = rng(12345);
const randomNd = (shape: number[]) => nd(shape, randn(random, shape.reduce((a, b) => a * b, 1)).map(Math.fround));
const upload = (x: Nd) => fromArray(engine, Float32Array.from(x.data), x.shape);

/** Stride 1 and 2 on 13×11 inputs (a 3×3 kernel with padding 1 maps back to 13×11 exactly). */
async function validate(stride: number): Promise<void> {
  const x = randomNd([3, 10, 13, 11]), w = randomNd([20, 10, 3, 3]), b = randomNd([20]);
  const opts = { stride, padding: 1 };
  const y = ref.conv2d(x, w, b, opts);
  const g = randomNd(y.shape);
  const grads = ref.conv2dBackward(x, w, g, opts);
  const [xt, wt, bt, gt] = [x, w, b, g].map(upload);
  const results: [string, Tensor, Nd][] = [
    ['forward', conv2d(xt, wt, bt, opts), y],
    ['input grad', convTranspose2d(gt, wt, undefined, opts), grads.dx],
    ['weight grad', conv2dWeightGrad(xt, w.shape, gt, opts), grads.dw],
  ];
  const report: string[] = [];
  for (const [name, got, want] of results) {
    const { maxRel } = compare(await got.read(), want.data);
    report.push(`${name} ${maxRel.toExponential(1)}`);
    if (!(maxRel < 1e-4)) throw new Error(`conv ${name} (stride ${stride}) disagrees with the float64 reference: max rel error ${maxRel}`);
  }
  console.log(`check stride ${stride} [3,10,13,11]→20, max rel error: ${report.join(', ')}`);
  for (const t of [xt, wt, bt, gt, ...results.map((r) => r[1])]) t.dispose();
}

async function medianMs(run: () => Tensor): Promise<number> {
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

const tileName = (t: ConvTile) => `${t.channels}x${4 * t.vec4Pixels}`;

async function benchmark(): Promise<void> {
  const [N, C, H, W] = [8, 64, 32, 32];
  const x = upload(randomNd([N, C, H, W])), w = upload(randomNd([C, C, 3, 3])), g = upload(randomNd([N, C, H, W]));
  const flops = 2 * N * C * H * W * C * 9;
  const { conv } = engine.tuning;
  const rows: [string, ConvTile, () => Tensor][] = [
    ['forward', conv.forward(C, W), () => conv2d(x, w, undefined, { padding: 1 })],
    ['input grad', conv.transposed(C, W), () => convTranspose2d(g, w, undefined, { padding: 1 })],
    ['weight grad', conv.weightGrad, () => conv2dWeightGrad(x, w.shape, g, { padding: 1 })],
  ];
  console.log('op           shape                    tile       ms   GFLOP/s');
  for (const [op, tile, run] of rows) {
    const ms = await medianMs(run);
    console.log(`${op.padEnd(12)} ${`${N}×${C}×${H}×${W} k3 p1 → ${C}`.padEnd(24)} ${tileName(tile).padEnd(5)} ${ms.toFixed(1).padStart(7)} ${(flops / ms / 1e6).toFixed(2).padStart(8)}`);
  }
  for (const t of [x, w, g]) t.dispose();
}

/** The forward convs of the Franfee MNIST UNet at batch 64: [Cin, Cout, H (= W), kernel, stride]. */
const FRANFEE_CONVS: [number, number, number, number, number][] = [
  [1, 10, 28, 3, 1], [10, 10, 28, 3, 1], [20, 10, 28, 3, 1], [10, 1, 28, 3, 1], [1, 10, 28, 1, 1], [10, 10, 28, 2, 2],
  [10, 20, 14, 3, 1], [20, 20, 14, 3, 1], [40, 20, 14, 3, 1], [20, 20, 14, 2, 2],
  [20, 40, 7, 3, 1], [40, 40, 7, 3, 1], [80, 40, 7, 3, 1], [40, 40, 7, 2, 2],
  [40, 80, 3, 3, 1], [80, 80, 3, 3, 1],
];

/**
 * GPU ms of the forward kernel alone (timestamp queries) for every Franfee conv shape and every
 * tile, one engine per tile, plus the adapter's own rule: the table the software rule was read off.
 */
async function sweep(tiles: ConvTile[]): Promise<void> {
  const N = 64;
  const base = engine.tuning;
  const columns = [...tiles.map((t) => ({ name: tileName(t), tuning: withConvTile(base, t) })), { name: 'rule', tuning: base }];
  const table = new Map<string, number[]>();
  for (const { tuning } of columns) {
    engine.destroy();
    engine = await Engine.create({ tuning });
    await engine.precompile(convKernels(engine.tuning));
    for (const [Cin, Cout, H, k, stride] of FRANFEE_CONVS) {
      const x = upload(randomNd([N, Cin, H, H])), w = upload(randomNd([Cout, Cin, k, k])), b = upload(randomNd([Cout]));
      const padding = k === 3 ? 1 : 0;
      const profile = await engine.profileOps(() => {
        for (let i = 0; i < 3; i++) conv2d(x, w, b, { padding, stride }).dispose();
      });
      if (!profile) throw new Error('--sweep needs timestamp queries');
      const key = `${Cin}→${Cout} ${H}² k${k} s${stride}`;
      table.set(key, [...(table.get(key) ?? []), profile.get('conv2d_forward')!.ms / 3]);
      for (const t of [x, w, b]) t.dispose();
    }
  }
  console.log(`${'forward, batch 64'.padEnd(20)}${columns.map((c) => c.name.padStart(8)).join('')}   (GPU ms; * = fastest tile)`);
  const totals = columns.map(() => 0);
  for (const [key, ms] of table) {
    const best = Math.min(...ms.slice(0, tiles.length));
    ms.forEach((v, i) => (totals[i] += v));
    console.log(`${key.padEnd(20)}${ms.map((v, i) => `${i < tiles.length && v === best ? '*' : ' '}${v.toFixed(1)}`.padStart(8)).join('')}`);
  }
  console.log(`${'total'.padEnd(20)}${totals.map((v) => v.toFixed(0).padStart(8)).join('')}`);
}

const args = process.argv.slice(2);
const tiles: ConvTile[] = args.filter((a) => a !== '--sweep').map((arg) => {
  const m = arg.match(/^(\d+)x(\d+)$/);
  if (!m || Number(m[1]) % 4 || Number(m[2]) % 4) throw new Error(`tile "${arg}": expected CxP with C and P multiples of 4`);
  return { channels: Number(m[1]), vec4Pixels: Number(m[2]) / 4 };
});

if (args.includes('--sweep')) {
  await sweep(tiles.length ? tiles : [4, 8, 12, 16].flatMap((c) => [4, 8].map((p) => ({ channels: c, vec4Pixels: p / 4 }))));
} else {
  for (const tile of tiles.length ? tiles : [null]) {
    if (tile) {
      const base = engine.tuning;
      engine.destroy();
      engine = await Engine.create({ tuning: withConvTile(base, tile) });
    }
    await engine.precompile(convKernels(engine.tuning));
    await validate(1);
    await validate(2);
    await benchmark();
  }
}
engine.destroy();
process.exit(0);
