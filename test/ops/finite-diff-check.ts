// Gradient check shared by the norm and softmax tests: GPU gradients of sum(f(inputs) ⊙ w) against
// central finite differences of a float64 reference forward, at a few indices of every input.
import { valueAndGrad, type Engine, type Tensor } from '../../engine/index.ts';
import { mul, sum } from '../../engine/ops/index.ts';
import { nd, type Nd } from '../../engine/reference/nd.ts';
import { assertClose, finiteDiff } from '../helpers/check.ts';
import { randomNd, upload } from '../helpers/harness.ts';

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
