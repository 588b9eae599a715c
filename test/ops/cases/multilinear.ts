// Bounds for multilinear ops (conv, matmul, sums, layout), optionally followed by an activation.
// Every output and gradient is a sum of products of inputs with coefficients ≥ 0, so the reference
// run on |inputs| and |g| gives Σ|terms| exactly; K counts the terms of the longest sum.
import type { Bounds, RefResults } from '../../helpers/op-case.ts';
import type { Nd } from '../../../engine/reference/nd.ts';
import { abs, absAll, absNd, activationBackward, activationForward, plus, sumOf, type Activation } from './bounds.ts';

export interface Multilinear {
  /** The op without its activation. */
  pre(xs: Nd[]): Nd;
  /** Gradients of ⟨pre(xs), g⟩ for each differentiated input. */
  preGrads(xs: Nd[], g: Nd): Nd[];
  /** Terms of the longest sum behind an output, and behind each gradient. */
  K: number;
  gradK: number[];
}

/**
 * act(pre): the forward bound passes through the activation; the backward is the multilinear
 * backward of g·act′(pre), whose own error gPreErr travels through |backward|.
 */
export function multilinearBounds(m: Multilinear, act: Activation = 'none'): (xs: Nd[], r: RefResults) => Bounds {
  return (xs, r) => {
    const ax = absAll(xs);
    const pre = m.pre(xs).data;
    const preBound = sumOf(m.pre(ax).data, m.K);
    const { gPre, gPreErr } = activationBackward(act, pre, preBound, r.g);
    const magnitudes = m.preGrads(ax, absNd(gPre)).map((mag, j) => sumOf(abs(mag.data), m.gradK[j]));
    // Without an activation g enters exactly: nothing to propagate.
    const propagated = act === 'none' ? null : m.preGrads(ax, { shape: r.g.shape, data: gPreErr });
    return {
      forward: activationForward(act, pre, preBound),
      grads: magnitudes.map((mag, j) => (propagated ? plus(mag, abs(propagated[j].data)) : mag)),
    };
  };
}
