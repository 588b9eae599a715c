// Softmax and log-softmax over the last dimension (shaders/softmax.wgsl), with their gradients.
// Log-softmax's gradient is itself differentiable (AGDM's guidance differentiated by an attack);
// softmax's is first order only.
import { record, recordDifferentiable } from '../autograd.ts';
import { Uniforms, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { mul, sub } from './binary.ts';
import { empty, flatGrid } from './common.ts';
import { sum } from './reduce.ts';
import { exp, scale as scaleBy } from './unary.ts';
import { workgroupPerRow, type Tuning } from './tuning.ts';

function softmaxKernel(tuning: Tuning, log: boolean, backward: boolean): KernelSpec {
  return {
    op: `${log ? 'log_' : ''}softmax${backward ? '_backward' : ''}`,
    shader: 'softmax',
    defines: { WG: tuning.serialWorkgroup, BLOCK: tuning.sumBlock, TREE: workgroupPerRow(tuning), SUBGROUPS: tuning.rowReduction === 'subgroup', LOG: log, BACKWARD: backward },
  };
}

function launch(log: boolean, backward: boolean, storage: Tensor[], length: number, scale: number): void {
  const engine = storage[0].engine;
  const rows = storage[0].size / length;
  const kernel = softmaxKernel(engine.tuning, log, backward);
  // Serial: a row per invocation; tree or subgroups: a row per workgroup.
  const rowsPerGroup = workgroupPerRow(engine.tuning) ? 1 : engine.tuning.serialWorkgroup;
  const { groups, groupsX } = flatGrid(engine, rows, rowsPerGroup);
  engine.dispatch(kernel, storage, new Uniforms().u32(rows, length, groupsX).f32(scale), groups);
}

function runSoftmax(x: Tensor, log: boolean, scale: number): Tensor {
  if (x.rank < 1 || x.size === 0) throw new RangeError(`softmax: needs a non-empty tensor, got [${x.shape}]`);
  const engine = x.engine;
  const length = x.shape[x.rank - 1];
  const name = log ? 'log_softmax' : 'softmax';
  const y = empty(engine, x.shape, name);
  launch(log, false, [x, y], length, scale);
  // Both gradients are functions of the output, so only y is kept.
  const backward = (gradOut: Tensor) => {
    const gx = empty(engine, x.shape, `${name}_backward`);
    launch(log, true, [y, gradOut, gx], length, scale);
    return gx;
  };
  if (!log || scale !== 1) return record(name, [x], y, (g) => [backward(g)]);
  return recordDifferentiable(name, [x], y, (g) => [logSoftmaxBackward(y, g, backward(g))]);
}

/**
 * Records log-softmax's gradient gx = g − p·Σg (p = exp y, Σ over the row) as a function of y and g:
 * for an upstream gg, ∂⟨gg, gx⟩/∂g = gg − Σ(gg·p) and ∂⟨gg, gx⟩/∂y = −gg·p·Σg.
 */
function logSoftmaxBackward(y: Tensor, g: Tensor, gx: Tensor): Tensor {
  const rowSum = (t: Tensor) => sum(t, [-1], true);
  return recordDifferentiable('log_softmax_backward', [y, g], gx, (gg) => {
    const ggp = mul(gg, exp(y));
    return [y.requiresGrad ? scaleBy(mul(ggp, rowSum(g)), -1) : null, g.requiresGrad ? sub(gg, rowSum(ggp)) : null];
  });
}

/** softmax over the last dimension, numerically stable (the row maximum is subtracted). */
export const softmax = (x: Tensor): Tensor => runSoftmax(x, false, 1);
/** log(softmax(x)) over the last dimension, computed as x − max − log Σ exp(x − max). */
export const logSoftmax = (x: Tensor): Tensor => runSoftmax(x, true, 1);
/** softmax(scale·x) with the scale folded into the kernel (attention's 1/√D), gradient w.r.t. x. */
export const scaledSoftmax = (x: Tensor, scale: number): Tensor => runSoftmax(x, false, scale);

export const softmaxKernels = (tuning: Tuning): KernelSpec[] => [false, true].flatMap((log) => [softmaxKernel(tuning, log, false), softmaxKernel(tuning, log, true)]);
