// Softmax and log-softmax over the last dimension (shaders/softmax.wgsl), with their gradients.
import { record } from '../autograd.ts';
import { Uniforms, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { empty, flatGrid } from './common.ts';
import type { Tuning } from './tuning.ts';

function softmaxKernel(tuning: Tuning, log: boolean, backward: boolean): KernelSpec {
  return {
    op: `${log ? 'log_' : ''}softmax${backward ? '_backward' : ''}`,
    shader: 'softmax',
    defines: { WG: tuning.serialWorkgroup, BLOCK: tuning.sumBlock, TREE: tuning.rowReduction === 'tree', LOG: log, BACKWARD: backward },
  };
}

function launch(log: boolean, backward: boolean, storage: Tensor[], length: number, scale: number): void {
  const engine = storage[0].engine;
  const rows = storage[0].size / length;
  const kernel = softmaxKernel(engine.tuning, log, backward);
  // Serial: a row per invocation; tree: a row per workgroup.
  const rowsPerGroup = engine.tuning.rowReduction === 'tree' ? 1 : engine.tuning.serialWorkgroup;
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
  return record(name, [x], y, (gradOut) => {
    const gx = empty(engine, x.shape, `${name}_backward`);
    launch(log, true, [y, gradOut, gx], length, scale);
    return [gx];
  });
}

/** softmax over the last dimension, numerically stable (the row maximum is subtracted). */
export const softmax = (x: Tensor): Tensor => runSoftmax(x, false, 1);
/** log(softmax(x)) over the last dimension, computed as x − max − log Σ exp(x − max). */
export const logSoftmax = (x: Tensor): Tensor => runSoftmax(x, true, 1);
/** softmax(scale·x) with the scale folded into the kernel (attention's 1/√D), gradient w.r.t. x. */
export const scaledSoftmax = (x: Tensor, scale: number): Tensor => runSoftmax(x, false, scale);

export const softmaxKernels = (tuning: Tuning): KernelSpec[] => [false, true].flatMap((log) => [softmaxKernel(tuning, log, false), softmaxKernel(tuning, log, true)]);
