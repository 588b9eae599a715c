// Batched matmul with strided (transposable, broadcastable) operands and a fused bias + activation
// epilogue (shaders/matmul.wgsl); linear() is matmul against a [out, in] weight, PyTorch's layout.
import { recordDifferentiable } from '../autograd.ts';
import { Uniforms, type KernelSpec } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';
import { empty } from './common.ts';
import { sumTo } from './reduce.ts';
import { reshape } from './shape.ts';
import { silu, unaryBackward } from './unary.ts';
import type { Tuning } from './tuning.ts';

export type Activation = 'none' | 'relu' | 'silu';

export function matmulKernel(tuning: Tuning, bias: boolean, activation: Activation): KernelSpec {
  const tile = tuning.matmul;
  return {
    op: 'matmul',
    shader: 'matmul',
    defines: { TM: tile.rows, NV: tile.vec4Cols, BIAS: bias, RELU: activation === 'relu', SILU: activation === 'silu', UNROLL: tuning.unroll },
  };
}

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
  bias?: Tensor;
  activation?: Activation;
}

/** Operand description: batch count (1 broadcasts), rows, cols after the optional transpose, strides. */
function operand(t: Tensor, trans: boolean, name: string) {
  if (t.rank !== 2 && t.rank !== 3) throw new RangeError(`matmul: ${name} must be rank 2 or 3, got [${t.shape}]`);
  const [batch, r, c] = t.rank === 3 ? t.shape : [1, ...t.shape];
  const rows = trans ? c : r;
  const cols = trans ? r : c;
  return { batch, rows, cols, sBatch: batch === 1 ? 0 : r * c, sRow: trans ? 1 : c, sCol: trans ? c : 1 };
}

/** Raw kernel launch, no autograd: out = op(A)·op(B) (+bias) (→act). */
function matmulRaw(a: Tensor, b: Tensor, transA: boolean, transB: boolean, bias: Tensor | undefined, activation: Activation): Tensor {
  const A = operand(a, transA, 'A');
  const B = operand(b, transB, 'B');
  if (A.cols !== B.rows) throw new RangeError(`matmul: inner dimensions differ: [${a.shape}]${transA ? 'ᵀ' : ''} · [${b.shape}]${transB ? 'ᵀ' : ''}`);
  if (A.batch !== B.batch && A.batch !== 1 && B.batch !== 1) throw new RangeError(`matmul: batch sizes ${A.batch} and ${B.batch} differ`);
  const batch = Math.max(A.batch, B.batch);
  const [M, K, N] = [A.rows, A.cols, B.cols];
  if (bias && bias.size !== N) throw new RangeError(`matmul: bias has ${bias.size} values for ${N} columns`);
  const engine = a.engine;
  const shape = a.rank === 3 || b.rank === 3 ? [batch, M, N] : [M, N];
  const out = empty(engine, shape, 'matmul');
  const tile = engine.tuning.matmul;
  const u = new Uniforms().u32(M, N, K, A.sBatch, A.sRow, A.sCol, B.sBatch, B.sRow, B.sCol);
  const groups: [number, number, number] = [Math.ceil(N / (32 * tile.vec4Cols)), Math.ceil(M / (8 * tile.rows)), batch];
  engine.dispatch(matmulKernel(engine.tuning, !!bias, activation), bias ? [a, b, bias, out] : [a, b, out], u, groups);
  return out;
}

export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const { transA = false, transB = false, bias, activation = 'none' } = opts;
  const differentiating = !!a.engine.tape && [a, b, bias].some((t) => t?.requiresGrad);
  if (activation === 'silu') {
    if (!differentiating) return matmulRaw(a, b, transA, transB, bias, activation);
    // SiLU's derivative needs the pre-activation, so it stays unfused when recording.
    return silu(matmul(a, b, { transA, transB, bias }));
  }
  const out = matmulRaw(a, b, transA, transB, bias, activation);
  const inputs = bias ? [a, b, bias] : [a, b];
  // The gradients are matmuls themselves (recorded), so a tape can differentiate them again.
  const mm = (x: Tensor, y: Tensor, tx: boolean, ty: boolean) => matmul(x, y, { transA: tx, transB: ty });
  return recordDifferentiable('matmul', inputs, out, (gOut) => {
    // ReLU's derivative is readable from its output (out > 0 exactly where the pre-activation is).
    const g = activation === 'relu' ? unaryBackward('RELU', out, gOut) : gOut;
    // C = op(A)·op(B):  dA = g·op(B)ᵀ (transposed back if A was), dB = op(A)ᵀ·g (likewise).
    const ga = a.requiresGrad ? (transA ? mm(b, g, transB, true) : mm(g, b, false, !transB)) : null;
    const gb = b.requiresGrad ? (transB ? mm(g, a, true, transA) : mm(a, g, !transA, false)) : null;
    const gbias = bias?.requiresGrad ? sumTo(g, [bias.size]) : null;
    return [ga && sumTo(ga, a.shape), gb && sumTo(gb, b.shape), ...(bias ? [gbias && reshape(gbias, bias.shape)] : [])];
  });
}

/** y = x·Wᵀ + bias for x [batch, in] and W [out, in] (PyTorch Linear). */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor, activation: Activation = 'none'): Tensor {
  return matmul(x, weight, { transB: true, bias, activation });
}

export const matmulKernels = (tuning: Tuning): KernelSpec[] =>
  [false, true].flatMap((bias) => (['none', 'relu', 'silu'] as const).map((act) => matmulKernel(tuning, bias, act)));
