// Kernel lab for the conv passes (shaders/conv2d.wgsl): checks each pass against the float64
// reference on a small odd shape, then times forward, input gradient (the TRANSPOSED pass, which
// conv2d's backward launches as convTranspose2d does) and weight gradient on conv3×3 64→64,
// 32×32, batch 8, pad 1: median of 7 runs after 2 warm-ups, synced before and after each.
// Usage: node --import tsx tools/bench-conv.ts [CxP ...]   (register tiles to compare, e.g. 8x8 4x16)
//        node --import tsx tools/bench-conv.ts --sweep [CxP ...]   (tiles × the Franfee UNet's conv passes, interleaved)
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
    ['forward', conv.forward({ kernel: 3, stride: 1, outChannels: C, outWidth: W }), () => conv2d(x, w, undefined, { padding: 1 })],
    ['input grad', conv.transposed({ kernel: 3, stride: 1, outChannels: C, outWidth: W }), () => convTranspose2d(g, w, undefined, { padding: 1 })],
    ['weight grad', conv.weightGrad, () => conv2dWeightGrad(x, w.shape, g, { padding: 1 })],
  ];
  console.log('op           shape                    tile       ms   GFLOP/s');
  for (const [op, tile, run] of rows) {
    const ms = await medianMs(run);
    console.log(`${op.padEnd(12)} ${`${N}×${C}×${H}×${W} k3 p1 → ${C}`.padEnd(24)} ${tileName(tile).padEnd(5)} ${ms.toFixed(1).padStart(7)} ${(flops / ms / 1e6).toFixed(2).padStart(8)}`);
  }
  for (const t of [x, w, g]) t.dispose();
}

/**
 * The conv passes of the Franfee MNIST UNet's forward and input gradient at batch 64: [pass, Cin,
 * Cout, H (= W) of the pass's input, kernel, stride] (its 2×2 stride-2 up-convs are transposed passes).
 */
const FRANFEE_CONVS: ['forward' | 'transposed', number, number, number, number, number][] = [
  ['forward', 1, 10, 28, 3, 1], ['forward', 10, 10, 28, 3, 1], ['forward', 20, 10, 28, 3, 1], ['forward', 10, 1, 28, 3, 1],
  ['forward', 10, 20, 14, 3, 1], ['forward', 20, 20, 14, 3, 1], ['forward', 40, 20, 14, 3, 1],
  ['forward', 20, 40, 7, 3, 1], ['forward', 40, 40, 7, 3, 1], ['forward', 80, 40, 7, 3, 1],
  ['forward', 40, 80, 3, 3, 1], ['forward', 80, 80, 3, 3, 1],
  ['forward', 1, 10, 28, 1, 1], ['forward', 20, 10, 28, 1, 1], ['forward', 10, 20, 14, 1, 1], ['forward', 40, 20, 14, 1, 1], ['forward', 20, 40, 7, 1, 1], ['forward', 80, 40, 7, 1, 1], ['forward', 40, 80, 3, 1, 1],
  ['forward', 10, 10, 28, 2, 2], ['forward', 20, 20, 14, 2, 2], ['forward', 40, 40, 7, 2, 2],
  ['transposed', 80, 40, 3, 2, 2], ['transposed', 40, 20, 7, 2, 2], ['transposed', 20, 10, 14, 2, 2],
  // The input gradient's passes (attacks, guidance, training): transposed 3×3 and 1×1, forward 2×2 stride 2.
  ['transposed', 10, 1, 28, 3, 1], ['transposed', 10, 10, 28, 3, 1], ['transposed', 10, 20, 28, 3, 1],
  ['transposed', 20, 10, 14, 3, 1], ['transposed', 20, 20, 14, 3, 1], ['transposed', 20, 40, 14, 3, 1],
  ['transposed', 40, 20, 7, 3, 1], ['transposed', 40, 40, 7, 3, 1], ['transposed', 40, 80, 7, 3, 1],
  ['transposed', 80, 40, 3, 3, 1], ['transposed', 80, 80, 3, 3, 1],
  ['transposed', 10, 1, 28, 1, 1], ['transposed', 10, 20, 28, 1, 1], ['transposed', 20, 10, 14, 1, 1], ['transposed', 20, 40, 14, 1, 1],
  ['transposed', 40, 20, 7, 1, 1], ['transposed', 40, 80, 7, 1, 1], ['transposed', 80, 40, 3, 1, 1],
];

const SWEEP_ROUNDS = 5;

/**
 * GPU ms (timestamp queries) of every Franfee conv pass under every tile and under the adapter's
 * own rule. One engine per column, all alive at once, run round robin per shape and the median of
 * SWEEP_ROUNDS kept, so load drift hits every column alike: the table the software rule was read off.
 */
async function sweep(tiles: ConvTile[]): Promise<void> {
  const N = 64;
  const base = engine.tuning;
  const columns = [...tiles.map((t) => ({ name: tileName(t), tuning: withConvTile(base, t) })), { name: 'rule', tuning: base }];
  const engines: Engine[] = [];
  for (const { tuning } of columns) {
    const e = await Engine.create({ tuning });
    await e.precompile(convKernels(e.tuning));
    engines.push(e);
  }
  console.log(`${'batch 64'.padEnd(26)}${columns.map((c) => c.name.padStart(8)).join('')}   (GPU ms, median of ${SWEEP_ROUNDS} interleaved; * = fastest tile)`);
  const totals = columns.map(() => 0);
  for (const [pass, Cin, Cout, H, k, stride] of FRANFEE_CONVS) {
    const x = randomNd([N, Cin, H, H]), w = randomNd(pass === 'forward' ? [Cout, Cin, k, k] : [Cin, Cout, k, k]), b = randomNd([Cout]);
    const inputs = engines.map((e) => [x, w, b].map((v) => fromArray(e, Float32Array.from(v.data), v.shape)));
    const opts = { stride, padding: k === 3 ? 1 : 0 };
    const samples = columns.map(() => [] as number[]);
    for (let round = 0; round < SWEEP_ROUNDS; round++) {
      for (const [i, e] of engines.entries()) {
        const [xt, wt, bt] = inputs[i];
        const run = () => (pass === 'forward' ? conv2d(xt, wt, bt, opts) : convTranspose2d(xt, wt, bt, opts)).dispose();
        run();
        const profile = await e.profileOps(run);
        if (!profile) throw new Error('--sweep needs timestamp queries');
        samples[i].push([...profile.values()].reduce((a, v) => a + v.ms, 0));
      }
    }
    const ms = samples.map((v) => v.sort((a, b) => a - b)[SWEEP_ROUNDS >> 1]);
    const best = Math.min(...ms.slice(0, tiles.length));
    ms.forEach((v, i) => (totals[i] += v));
    const key = `${pass === 'forward' ? 'fwd' : 'transp'} ${Cin}→${Cout} ${H}² k${k} s${stride}`;
    console.log(`${key.padEnd(26)}${ms.map((v, i) => `${i < tiles.length && v === best ? '*' : ' '}${v.toFixed(2)}`.padStart(8)).join('')}`);
    inputs.flat().forEach((t) => t.dispose());
  }
  console.log(`${'total'.padEnd(26)}${totals.map((v) => v.toFixed(1).padStart(8)).join('')}`);
  engines.forEach((e) => e.destroy());
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
