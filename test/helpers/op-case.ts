// One entry of the op-test table (ggml's test-backend-ops, tinygrad's helper_test_op): an op at one
// shape, its inputs, the GPU function, the float64 reference forward and backward, and the error
// bound of every output element. The harness (op-harness.ts) does the rest for every kernel variant.
import type { Engine, Tensor } from '../../engine/index.ts';
import type { Nd } from '../../engine/reference/nd.ts';

/** Absolute error bounds, element by element, for the forward output and for each gradient in `wrt` order. */
export interface Bounds {
  forward: Float64Array;
  grads: Float64Array[];
}

/** Reference results the bounds are built from. */
export interface RefResults {
  y: Nd;
  /** Upstream gradient seeding the backward (shape of y). */
  g: Nd;
  grads: Nd[];
}

export interface CaseInstance {
  /** f32-exact values, so the GPU sees exactly the reference's inputs. */
  inputs: Nd[];
  /** Indices of the inputs the backward differentiates; default all, none without refGrads. */
  wrt?: number[];
  gpu(ts: Tensor[], engine: Engine): Tensor;
  ref(xs: Nd[]): Nd;
  /** Gradients of ⟨ref(xs), g⟩ w.r.t. each input in `wrt`; absent: the op has no backward. */
  refGrads?(xs: Nd[], g: Nd): Nd[];
  /** Per-element error bounds of a correct f32 kernel; the reasoning is in bounds.ts and the case files. */
  bounds(xs: Nd[], r: RefResults): Bounds;
  /** false where the inputs sit near kinks a finite-difference step could cross (relu with random pre-activations). */
  finiteDiff?: boolean;
}

export interface OpCase {
  /** The op family the stress report groups by. */
  op: string;
  /** Op and shape, unique in the table. */
  name: string;
  /** Set where the op's kernel for this shape is, by design, not precompiled (say which and why). */
  compilesLate?: string;
  make(random: () => number): CaseInstance;
}
