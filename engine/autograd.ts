// Reverse-mode tape. Ops that see an input with requiresGrad push a node holding a backward closure;
// valueAndGrad() replays the nodes in reverse. Saved tensors stay alive because the whole forward and
// backward run inside one engine scope, which disposes every intermediate at the end.
//
// Higher order (PyTorch's create_graph, JAX's vjp of vjp): valueAndGrad() called while a tape records
// runs f on that tape and replays its nodes with the tape still recording, so the gradients it returns
// are themselves recorded functions of f's inputs and the outer valueAndGrad differentiates them (an
// AGDM step's guidance g = ∇φ(x_t) inside an attack's step tape: a Hessian–vector product). That
// needs every backward it replays to be built from recorded ops: such ops record with
// recordDifferentiable(); replaying a node recorded with record() under a tape throws rather than
// return a gradient whose own dependence on the inputs would be silently dropped.
import type { Engine } from './runtime.ts';
import type { Tensor } from './tensor.ts';

export interface TapeNode {
  op: string;
  inputs: Tensor[];
  output: Tensor;
  /** Gradients w.r.t. each input (null where the input needs none). */
  backward(gradOutput: Tensor): (Tensor | null)[];
  /** Whether backward() computes with recorded ops only, so a tape can differentiate it again. */
  differentiable: boolean;
}

export type Tape = TapeNode[];

function push(op: string, inputs: Tensor[], output: Tensor, backward: TapeNode['backward'], differentiable: boolean): Tensor {
  const tape = output.engine.tape;
  if (tape && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    tape.push({ op, inputs, output, backward, differentiable });
  }
  return output;
}

/** Called by every differentiable op after computing its output; its backward may launch raw kernels (first order only). */
export function record(op: string, inputs: Tensor[], output: Tensor, backward: TapeNode['backward']): Tensor {
  return push(op, inputs, output, backward, false);
}

/**
 * Like record(), for an op whose backward computes only with recorded ops (or returns null where
 * the derivative is zero almost everywhere), so gradients through it can be differentiated again.
 */
export function recordDifferentiable(op: string, inputs: Tensor[], output: Tensor, backward: TapeNode['backward']): Tensor {
  return push(op, inputs, output, backward, true);
}

export interface GradHelpers {
  ones(like: Tensor): Tensor;
  zeros(like: Tensor): Tensor;
  add(a: Tensor, b: Tensor): Tensor;
}

let helpers: GradHelpers | null = null;
/** ops/index.ts installs the elementwise helpers the tape needs (breaks an import cycle). */
export function installGradHelpers(h: GradHelpers): void {
  helpers = h;
}

/**
 * Replays tape[from..] in reverse from `value` seeded with `seed`; returns the gradient of every
 * tensor reached. `nested`: the tape is still recording, so only differentiable backwards may run.
 */
function replay(h: GradHelpers, tape: Tape, from: number, value: Tensor, seed: Tensor, nested: boolean): Map<Tensor, Tensor> {
  const grads = new Map<Tensor, Tensor>([[value, seed]]);
  for (let i = tape.length - 1; i >= from; i--) {
    const node = tape[i];
    const g = grads.get(node.output);
    if (!g) continue;
    if (nested && !node.differentiable) {
      throw new Error(`${node.op}: its backward is not built from recorded ops, so a gradient through it cannot be differentiated again`);
    }
    const inputGrads = node.backward(g);
    node.inputs.forEach((input, j) => {
      const gi = inputGrads[j];
      if (!gi || !input.requiresGrad) return;
      const prev = grads.get(input);
      grads.set(input, prev ? h.add(prev, gi) : gi);
    });
  }
  return grads;
}

/**
 * Evaluates f and the gradient of its output (seeded with ones, i.e. of sum(output)) with respect
 * to each tensor in `wrt`, or seeded with `seed` (a tensor of the value's shape, or one computed
 * from the value on the GPU, e.g. softmax(z) − onehot(y) for cross-entropy over logits z).
 * Returns the value and the gradients; everything else f created is freed.
 * Called while a tape records (inside another valueAndGrad's f), the value and gradients are
 * recorded on that tape as functions of f's inputs, and nothing is freed until the outer call ends.
 */
export function valueAndGrad(engine: Engine, f: () => Tensor, wrt: Tensor[], seed?: Tensor | ((value: Tensor) => Tensor)): { value: Tensor; grads: Tensor[] } {
  if (!helpers) throw new Error('autograd helpers not installed: import engine/ops/index.ts');
  const h = helpers;
  const outer = engine.tape;
  // A seed computed from the value (a loss's gradient w.r.t. logits) saves a second forward pass.
  const seedFor = (value: Tensor) => (typeof seed === 'function' ? seed(value) : seed ?? h.ones(value));
  const saved = wrt.map((t) => t.requiresGrad);
  for (const t of wrt) t.requiresGrad = true;
  try {
    if (outer) {
      const from = outer.length;
      const value = f();
      // The outer tape keeps recording: the replay's own ops become differentiable functions of f's inputs.
      const grads = replay(h, outer, from, value, seedFor(value), true);
      return { value, grads: wrt.map((t) => grads.get(t) ?? h.zeros(t)) };
    }
    const tape: Tape = [];
    engine.tape = tape;
    return engine.scope(() => {
      const value = f();
      engine.tape = null;
      const grads = replay(h, tape, 0, value, seedFor(value), false);
      return { value, grads: wrt.map((t) => grads.get(t) ?? h.zeros(t)) };
    });
  } finally {
    engine.tape = outer;
    wrt.forEach((t, i) => (t.requiresGrad = saved[i]));
  }
}
