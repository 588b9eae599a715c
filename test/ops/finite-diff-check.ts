// Shared by the norm and softmax tests: a gradient check against finite differences of the float64
// reference, and a timer.
import { valueAndGrad, type Engine, type Tensor } from '../../engine/index.ts';
import { mul, sum } from '../../engine/ops/index.ts';
import { nd, type Nd } from '../../engine/reference/nd.ts';
import { assertClose, finiteDiff } from '../helpers/check.ts';
import { randomNd, upload } from '../helpers/harness.ts';

/** GPU gradients of sum(f(inputs) ⊙ w) vs central differences of the float64 forward, at a few indices of every input. */
export async function checkFiniteDiff(
  engine: Engine,
  random: () => number,
  name: string,
  inputs: Nd[],
  f: (ts: Tensor[]) => Tensor,
  reference: (xs: Nd[]) => Nd,
): Promise<void> {
  const w = randomNd(random, reference(inputs).shape);
  const loss = (xs: Nd[]) => reference(xs).data.reduce((s, v, i) => s + v * w.data[i], 0);
  const ts = inputs.map((x) => upload(engine, x));
  const wt = upload(engine, w);
  const { value, grads } = valueAndGrad(engine, () => sum(mul(f(ts), wt)), ts);
  for (let j = 0; j < inputs.length; j++) {
    const n = inputs[j].data.length;
    const idx = [...new Set([0, 1, Math.floor(n / 3), Math.floor(n / 2), n - 1])];
    const fd = finiteDiff((d) => loss(inputs.map((x, k) => (k === j ? nd(x.shape, d) : x))), inputs[j].data, idx);
    const got = await grads[j].read();
    assertClose(`${name} d/d input ${j} vs finite differences`, idx.map((i) => got[i]), fd, 1e-3, 1e-1);
  }
  for (const t of [...ts, wt, value, ...grads]) t.dispose();
}

/** Prints the best of three batches of `reps` runs (after a warm-up run), in ms per run: the machine may be shared. */
export async function timeIt(engine: Engine, label: string, reps: number, run: () => void): Promise<void> {
  run();
  await engine.sync();
  let best = Infinity;
  for (let batch = 0; batch < 3; batch++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) run();
    await engine.sync();
    best = Math.min(best, (performance.now() - t0) / reps);
  }
  console.log(`    ${label.padEnd(48)} ${best.toFixed(2)} ms`);
}
