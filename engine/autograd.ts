// Reverse-mode tape. Ops that see an input with requiresGrad push a node holding a backward closure;
// valueAndGrad() replays the nodes in reverse. Saved tensors stay alive because the whole forward and
// backward run inside one engine scope, which disposes every intermediate at the end.
import type { Engine } from './runtime.ts';
import type { Tensor } from './tensor.ts';

export interface TapeNode {
  op: string;
  inputs: Tensor[];
  output: Tensor;
  /** Gradients w.r.t. each input (null where the input needs none). */
  backward(gradOutput: Tensor): (Tensor | null)[];
}

export type Tape = TapeNode[];

/** Called by every differentiable op after computing its output. */
export function record(op: string, inputs: Tensor[], output: Tensor, backward: TapeNode['backward']): Tensor {
  const tape = output.engine.tape;
  if (tape && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    tape.push({ op, inputs, output, backward });
  }
  return output;
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
 * Evaluates f and the gradient of its output (seeded with ones, i.e. of sum(output)) with respect
 * to each tensor in `wrt`. Returns the value and the gradients; everything else f created is freed.
 */
export function valueAndGrad(engine: Engine, f: () => Tensor, wrt: Tensor[], seed?: Tensor): { value: Tensor; grads: Tensor[] } {
  if (!helpers) throw new Error('autograd helpers not installed: import engine/ops/index.ts');
  if (engine.tape) throw new Error('valueAndGrad cannot be nested (higher-order gradients are not supported)');
  const h = helpers;
  const saved = wrt.map((t) => t.requiresGrad);
  for (const t of wrt) t.requiresGrad = true;
  const tape: Tape = [];
  engine.tape = tape;
  try {
    return engine.scope(() => {
      const value = f();
      engine.tape = null;
      const grads = new Map<Tensor, Tensor>();
      grads.set(value, seed ?? h.ones(value));
      for (let i = tape.length - 1; i >= 0; i--) {
        const node = tape[i];
        const g = grads.get(node.output);
        if (!g) continue;
        const inputGrads = node.backward(g);
        node.inputs.forEach((input, j) => {
          const gi = inputGrads[j];
          if (!gi || !input.requiresGrad) return;
          const prev = grads.get(input);
          grads.set(input, prev ? h.add(prev, gi) : gi);
        });
      }
      return { value, grads: wrt.map((t) => grads.get(t) ?? h.zeros(t)) };
    });
  } finally {
    engine.tape = null;
    wrt.forEach((t, i) => (t.requiresGrad = saved[i]));
  }
}
