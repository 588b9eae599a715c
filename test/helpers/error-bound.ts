// The op tests' comparison: every output element against an error bound of its own, derived from
// how f32 arithmetic can go wrong for that element (test/ops/cases/bounds.ts), not a tolerance
// shared by all elements. A per-element relative error is ill-conditioned where an output cancels
// to near zero; a bound built from the magnitude of the terms that made the output is not.

/** f32 unit roundoff: one rounding moves a value by at most U times its magnitude. */
export const U = 2 ** -24;

/**
 * The smallest normal f32. Drivers may flush subnormals to zero, so an output whose terms are all
 * ~0 may still come back off by this much.
 */
export const F32_TINY = 2 ** -126;

export interface Comparison {
  label: string;
  /** ‖got − ref‖ / ‖ref‖ (0 where ref is all zeros and got matches): the ggml-style normalised error. */
  normErr: number;
  /** max over elements of |got − ref| / bound: ≤ 1 passes. */
  worstRatio: number;
  worstIndex: number;
  maxAbs: number;
  pass: boolean;
}

/** ‖got − ref‖ / ‖ref‖ (the plain norm of the error where ref is all zeros). */
export function normalisedError(got: ArrayLike<number>, ref: ArrayLike<number>): number {
  let errSq = 0, refSq = 0;
  for (let i = 0; i < ref.length; i++) {
    errSq += (got[i] - ref[i]) ** 2;
    refSq += ref[i] ** 2;
  }
  return refSq > 0 ? Math.sqrt(errSq / refSq) : Math.sqrt(errSq);
}

export function compareWithBound(label: string, got: ArrayLike<number>, ref: ArrayLike<number>, bound: ArrayLike<number>): Comparison {
  if (got.length !== ref.length || bound.length !== ref.length) {
    throw new RangeError(`${label}: ${got.length} values, ${ref.length} expected, ${bound.length} bounds`);
  }
  let errSq = 0, refSq = 0, maxAbs = 0, worstRatio = 0, worstIndex = -1;
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i] - ref[i]);
    // NaN or ±Inf output: fail at this element.
    const ratio = Number.isFinite(err) ? err / (bound[i] + F32_TINY) : Infinity;
    errSq += err * err;
    refSq += ref[i] * ref[i];
    if (err > maxAbs || !Number.isFinite(err)) maxAbs = err;
    if (!(ratio <= worstRatio)) {
      worstRatio = ratio;
      worstIndex = i;
    }
  }
  const normErr = refSq > 0 ? Math.sqrt(errSq / refSq) : Math.sqrt(errSq);
  return { label, normErr, worstRatio, worstIndex, maxAbs, pass: worstRatio <= 1 };
}

export function describeComparison(c: Comparison): string {
  return `${c.label} ‖e‖/‖r‖ ${c.normErr.toExponential(1)} bound ${(100 * c.worstRatio).toFixed(c.worstRatio < 0.01 ? 2 : 0)}%`;
}

export function describeFailure(c: Comparison, got: ArrayLike<number>, ref: ArrayLike<number>, bound: ArrayLike<number>): string {
  const i = c.worstIndex;
  return `${c.label}: |error| ${Math.abs(got[i] - ref[i]).toExponential(3)} > bound ${bound[i].toExponential(3)} at index ${i} ` +
    `(got ${got[i]}, expected ${ref[i]}); ‖e‖/‖r‖ ${c.normErr.toExponential(2)}, max |error| ${c.maxAbs.toExponential(2)}`;
}
