// Guidance gradients g = ∇ₓ G(x_t) added to each reverse step as s·Σ_t·g.
//  agdm (Lin et al., arXiv 2403.16067): G = w_class·log softmax(c_φ(u))_ŷ − w_latent·‖h(u) − h(x′)‖²,
//     u = x_t (or the x̂₀ estimate) mapped to [0, 1], ŷ = argmax c_φ(x′), h = logits or features.
//  gdmp (Wang et al. 2022) pulls x_t toward x′_t, a fresh forward diffusion of the input to t, by one
//     of the paper's two distances: 'mse', G = −½‖x_t − x′_t‖², whose gradient x′_t − x_t is closed
//     form and linear (so an attack's tape differentiates it exactly); or 'ssim', G = SSIM(x_t, x′_t)
//     (purify/ssim.ts), whose gradient needs a tape of its own.
// Both gradients are built from ops a tape can differentiate again (autograd.ts, higher order), so
// called under an attack's step tape they are recorded and the attack gets their exact derivative.
// Every G is a sum of per-image terms, so each image's gradient is independent of the batch size
// (GDMP's reference code averages over the batch, which weakens guidance as the batch grows).
import { valueAndGrad } from '../autograd.ts';
import { add, affine, fromArray, scale, square, sub, sum } from '../ops/index.ts';
import { gatherColumns } from '../ops/losses.ts';
import { logSoftmax } from '../ops/softmax.ts';
import type { Classifier } from '../models/types.ts';
import type { Tensor } from '../tensor.ts';
import { ssimPerImage } from './ssim.ts';

export interface AgdmOptions {
  /** Weight of the class term log softmax(c_φ)_ŷ. */
  classWeight: number;
  /** Weight of the latent-distance term ‖h(x_t) − h(x′)‖². */
  latentWeight: number;
  /** Which representation the distance compares. */
  latent: 'logits' | 'features';
  /** What c_φ sees: the noisy x_t, or the x̂₀ estimate (ε treated as a constant). */
  input: 'xt' | 'x0hat';
}

export const AGDM_DEFAULTS: AgdmOptions = { classWeight: 1, latentWeight: 1, latent: 'logits', input: 'xt' };

/** What the guidance compares against, computed once from the input x′. */
export interface AgdmReference {
  target: Tensor;
  labels: Tensor;
  predicted: number[];
}

function representation(c: Classifier, x: Tensor, latent: AgdmOptions['latent']): { rep: Tensor; logits: Tensor } {
  if (latent === 'logits') {
    const logits = c.logits(x);
    return { rep: logits, logits };
  }
  if (!c.features) throw new Error(`${c.name} exposes no features; use latent 'logits'`);
  const { features, logits } = c.features(x);
  return { rep: features, logits };
}

/** What AGDM's latent term compares for images x in [0, 1] (logits or features of c_φ). */
export const agdmRepresentation = (c: Classifier, x: Tensor, latent: AgdmOptions['latent']): Tensor => representation(c, x, latent).rep;

export async function agdmReference(c: Classifier, input01: Tensor, opts: AgdmOptions): Promise<AgdmReference> {
  const engine = input01.engine;
  return engine.scopeAsync(async () => {
    const { rep, logits } = representation(c, input01, opts.latent);
    const l = await logits.read();
    const k = logits.shape[1];
    const predicted = Array.from({ length: logits.shape[0] }, (_, n) => {
      let best = 0;
      for (let j = 1; j < k; j++) if (l[n * k + j] > l[n * k + best]) best = j;
      return best;
    });
    return { target: rep, labels: fromArray(engine, predicted, [predicted.length], 'agdm labels'), predicted };
  });
}

/**
 * ∇ₓ G for AGDM at model-space x_t. `toUnit` maps model space to [0, 1] images (a·x + b);
 * `x0hat` gives the x̂₀ estimate as an affine function of x_t when opts.input is 'x0hat'.
 */
export function agdmGradient(
  c: Classifier,
  xt: Tensor,
  ref: AgdmReference,
  opts: AgdmOptions,
  toUnit: { a: number; b: number },
  x0hat?: { slope: number; offset: Tensor },
): Tensor {
  const engine = xt.engine;
  const { grads } = valueAndGrad(
    engine,
    () => {
      const estimate = opts.input === 'x0hat' && x0hat ? add(scale(xt, x0hat.slope), x0hat.offset) : xt;
      const u = affine(estimate, toUnit.a, toUnit.b);
      const { rep, logits } = representation(c, u, opts.latent);
      const terms: Tensor[] = [];
      if (opts.classWeight !== 0) terms.push(scale(sum(gatherColumns(logSoftmax(logits), ref.labels)), opts.classWeight));
      if (opts.latentWeight !== 0) terms.push(scale(sum(square(sub(rep, ref.target))), -opts.latentWeight));
      if (!terms.length) return sum(scale(xt, 0));
      return terms.reduce((acc, t) => add(acc, t));
    },
    [xt],
  );
  return grads[0];
}

export const GDMP_DISTANCES = ['mse', 'ssim'] as const;
export type GdmpDistance = (typeof GDMP_DISTANCES)[number];

/**
 * ∇ₓ G for GDMP at x_t toward the re-diffused input x′_t. 'mse': x′_t − x_t. 'ssim': the gradient of
 * Σ_n mean SSIM(x_t[n], x′_t[n]), through valueAndGrad (recorded, when called under another tape).
 */
export function gdmpGradient(xt: Tensor, diffusedInput: Tensor, distance: GdmpDistance): Tensor {
  if (distance === 'mse') return sub(diffusedInput, xt);
  return valueAndGrad(xt.engine, () => sum(ssimPerImage(xt, diffusedInput)), [xt]).grads[0];
}
