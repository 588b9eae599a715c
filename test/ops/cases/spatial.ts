// Pooling, nearest upsampling and the layout ops (pad, crop, channel pad/slice, ::2 subsampling,
// concat), on odd image sizes. Layout ops copy (exact: one ulp of slack) and their gradients
// scatter-add (upsampling: 4 terms per element); average pools sum 4 or H·W terms and scale.
import type { Tensor } from '../../../engine/index.ts';
import { concatChannels, crop2d, pad2d, padChannels, sliceChannels, subsample2x } from '../../../engine/ops/layout.ts';
import { avgPool2x2, globalAvgPool, maxPool2x2, maxPool2x2Gather, upsampleNearest2x } from '../../../engine/ops/pool.ts';
import { nd, type Nd } from '../../../engine/reference/nd.ts';
import * as ref from '../../../engine/reference/spatial.ts';
import { randomNd } from '../../helpers/harness.ts';
import type { Bounds, OpCase, RefResults } from '../../helpers/op-case.ts';
import { abs, absAll, absNd, rounded, sumOf } from './bounds.ts';

/** Distinct values (a shuffled ramp plus jitter) so no max-pool window holds a tie or a near-tie. */
function distinctNd(random: () => number, shape: number[]): Nd {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.01 + random() * 0.002);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [values[i], values[j]] = [values[j], values[i]];
  }
  return nd(shape, values.map(Math.fround));
}

interface Spatial {
  op: string;
  name: string;
  inputs: (random: () => number) => Nd[];
  gpu: (ts: Tensor[]) => Tensor;
  ref: (xs: Nd[]) => Nd;
  refGrads: (xs: Nd[], g: Nd) => Nd[];
  /** Terms behind an output and behind a gradient element (1 for copies). */
  K: number;
  gradK: number;
}

/** Linear with coefficients ≥ 0, so the reference on |inputs| and |g| is Σ|terms| (multilinear.ts's rule, one input). */
const linearBounds = (s: Spatial) => (xs: Nd[], r: RefResults): Bounds => ({
  forward: s.K === 1 ? rounded(s.ref(absAll(xs)).data, 1) : sumOf(s.ref(absAll(xs)).data, s.K),
  grads: s.refGrads(absAll(xs), absNd(r.g)).map((m) => (s.gradK === 1 ? rounded(m.data, 1) : sumOf(abs(m.data), s.gradK))),
});

const spatialCase = (s: Spatial): OpCase => ({
  op: s.op,
  name: s.name,
  make: (random) => ({ inputs: s.inputs(random), gpu: s.gpu, ref: s.ref, refGrads: s.refGrads, bounds: linearBounds(s) }),
});

const remapCase = (op: string, shape: number[], detail: string, gpu: (t: Tensor) => Tensor, remap: ref.Remap, gradK = 1): OpCase =>
  spatialCase({
    op, name: `${op} ${detail}[${shape}]`, inputs: (random) => [randomNd(random, shape)], gpu: ([t]) => gpu(t),
    ref: ([v]) => ref.apply(v, remap), refGrads: ([v], g) => [ref.applyBackward(v.shape, g, remap)], K: 1, gradK,
  });

const IMAGE_SHAPES = [[1, 3, 7, 13], [2, 5, 13, 3], [2, 6, 8, 8], [3, 2, 1, 5], [1, 1, 2, 2], [2, 16, 32, 32]];

const poolCases = (shape: number[]): OpCase[] => [
  spatialCase({ op: 'avgPool2x2', name: `avgPool2x2 [${shape}]`, inputs: (r) => [randomNd(r, shape)], gpu: ([t]) => avgPool2x2(t),
    ref: ([v]) => ref.avgPool2x2(v), refGrads: ([v], g) => [ref.avgPool2x2Backward(v.shape, g)], K: 5, gradK: 2 }),
  // max pool picks one of four distinct values and routes g to it: exact both ways.
  {
    op: 'maxPool2x2', name: `maxPool2x2 [${shape}]`,
    make: (random) => ({
      inputs: [distinctNd(random, shape)], gpu: ([t]) => maxPool2x2(t), ref: ([v]) => ref.maxPool2x2(v),
      refGrads: ([v], g) => [ref.maxPool2x2Backward(v, g)], bounds: (_xs, r) => ({ forward: rounded(r.y.data, 1), grads: [rounded(r.grads[0].data, 1)] }),
    }),
  },
  // the gather at x's window maxima (max pooling's second-order gradient): exact, differentiated in v.
  {
    op: 'maxPool2x2Gather', name: `maxPool2x2Gather [${shape}]`,
    make: (random) => ({
      inputs: [distinctNd(random, shape), randomNd(random, shape)], wrt: [1], gpu: ([x, v]) => maxPool2x2Gather(x, v),
      ref: ([x, v]) => ref.maxPool2x2Gather(x, v), refGrads: ([x], g) => [ref.maxPool2x2Backward(x, g)],
      bounds: (_xs, r) => ({ forward: rounded(r.y.data, 1), grads: [rounded(r.grads[0].data, 1)] }),
    }),
  },
  remapCase('upsampleNearest2x', shape, '', upsampleNearest2x, ref.upsampleNearest2x(shape), 4),
  spatialCase({ op: 'globalAvgPool', name: `globalAvgPool [${shape}]`, inputs: (r) => [randomNd(r, shape)], gpu: ([t]) => globalAvgPool(t),
    ref: ([v]) => ref.globalAvgPool(v), refGrads: ([v], g) => [ref.globalAvgPoolBackward(v.shape, g)], K: shape[2] * shape[3] + 1, gradK: 2 }),
];

function layoutCases(shape: number[]): OpCase[] {
  const [N, c, h, w] = shape;
  return [
    remapCase('pad2d', shape, 'bottom/right 1 ', (t) => pad2d(t, { bottom: 1, right: 1 }), ref.pad2d(shape, 0, 1, 0, 1)),
    remapCase('pad2d', shape, '2,1,3,0 ', (t) => pad2d(t, { top: 2, bottom: 1, left: 3 }), ref.pad2d(shape, 2, 1, 3, 0)),
    remapCase('pad2d', shape, 'negative (crop) ', (t) => pad2d(t, { top: -1, right: -1, left: 2 }), ref.pad2d(shape, -1, 0, 2, -1)),
    remapCase('crop2d', shape, '', (t) => crop2d(t, 1, 2, h - 2, w - 2), ref.crop2d(shape, 1, 2, h - 2, w - 2)),
    remapCase('padChannels', shape, '2,3 ', (t) => padChannels(t, 2, 3), ref.padChannels(shape, 2, 3)),
    remapCase('sliceChannels', shape, '', (t) => sliceChannels(t, 1, c - 2), ref.sliceChannels(shape, 1, c - 2)),
    remapCase('subsample2x', shape, '', subsample2x, ref.subsample2x(shape)),
    spatialCase({
      op: 'concatChannels', name: `concatChannels [skip, x, extra] [${shape}]`,
      inputs: (r) => [randomNd(r, [N, 3, h, w]), randomNd(r, shape), randomNd(r, [N, 1, h, w])],
      gpu: (ts) => concatChannels(ts), ref: (xs) => ref.concatChannels(xs), refGrads: (xs, g) => ref.concatChannelsBackward(xs.map((v) => v.shape), g), K: 1, gradK: 1,
    }),
  ];
}

/** The MNIST UNet's pad 6→7 then concat [skip, x], and ResNet's option-A shortcut [2,16,32,32] → [2,32,16,16]. */
const padThenConcat = ref.pad2d([2, 20, 6, 6], 0, 1, 0, 1);
const shortcutSub = ref.subsample2x([2, 16, 32, 32]);
const shortcutPad = ref.padChannels(shortcutSub.outShape, 8, 8);
const MODEL_CASES: OpCase[] = [
  spatialCase({
    op: 'concatChannels', name: 'concat [skip, pad(up)] (MNIST UNet)', inputs: (r) => [randomNd(r, [2, 20, 7, 7]), randomNd(r, [2, 20, 6, 6])],
    gpu: ([s, u]) => concatChannels([s, pad2d(u, { bottom: 1, right: 1 })]),
    ref: ([s, u]) => ref.concatChannels([s, ref.apply(u, padThenConcat)]),
    refGrads: ([s, u], g) => {
      const [gs, gp] = ref.concatChannelsBackward([s.shape, padThenConcat.outShape], g);
      return [gs, ref.applyBackward(u.shape, gp, padThenConcat)];
    },
    K: 1, gradK: 1,
  }),
  spatialCase({
    op: 'padChannels', name: 'option-A shortcut [2,16,32,32] → [2,32,16,16]', inputs: (r) => [randomNd(r, [2, 16, 32, 32])],
    gpu: ([t]) => padChannels(subsample2x(t), 8, 8),
    ref: ([v]) => ref.apply(ref.apply(v, shortcutSub), shortcutPad),
    refGrads: ([v], g) => [ref.applyBackward(v.shape, ref.applyBackward(shortcutSub.outShape, g, shortcutPad), shortcutSub)],
    K: 1, gradK: 1,
  }),
];

export const SPATIAL_CASES: OpCase[] = [
  ...IMAGE_SHAPES.flatMap(poolCases),
  ...[[2, 10, 6, 6], [1, 3, 7, 13], [3, 5, 13, 3]].flatMap(layoutCases),
  ...MODEL_CASES,
];
