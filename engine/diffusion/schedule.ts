// DDPM noise schedules in float64 on the CPU (Ho et al. 2020; Nichol & Dhariwal 2021 cosine).
// Steps are 0-based: ᾱ_t = ∏_{i≤t} (1 − β_i), so t = 0 is the first noising step.

export interface Schedule {
  T: number;
  betas: Float64Array;
  alphaBars: Float64Array;
}

export function linearSchedule(T = 1000, betaStart = 1e-4, betaEnd = 0.02): Schedule {
  const betas = Float64Array.from({ length: T }, (_, i) => betaStart + ((betaEnd - betaStart) * i) / (T - 1));
  return withAlphaBars(betas);
}

export function cosineSchedule(T = 1000, s = 0.008, maxBeta = 0.999): Schedule {
  const f = (t: number) => Math.cos(((t / T + s) / (1 + s)) * (Math.PI / 2)) ** 2;
  const betas = Float64Array.from({ length: T }, (_, i) => Math.min(1 - f(i + 1) / f(i), maxBeta));
  return withAlphaBars(betas);
}

function withAlphaBars(betas: Float64Array): Schedule {
  const alphaBars = new Float64Array(betas.length);
  let prod = 1;
  betas.forEach((b, i) => {
    if (!(b > 0 && b < 1)) throw new RangeError(`beta[${i}] = ${b} is outside (0, 1)`);
    prod *= 1 - b;
    alphaBars[i] = prod;
  });
  return { T: betas.length, betas, alphaBars };
}

/** ᾱ before step t (1 for t = 0, i.e. clean data). */
export const alphaBarPrev = (s: Schedule, t: number) => (t > 0 ? s.alphaBars[t - 1] : 1);

export type VarianceType = 'fixedsmall' | 'fixedlarge';

/** Coefficients of one ancestral DDPM step t → t−1 (x̂₀ form of the posterior q(x_{t−1} | x_t, x̂₀)). */
export interface DdpmCoefficients {
  /** x̂₀ = (x_t − sqrt(1−ᾱ_t)·ε) / sqrt(ᾱ_t) */
  sqrtAlphaBar: number;
  sqrtOneMinusAlphaBar: number;
  /** μ = coefX0·x̂₀ + coefXt·x_t */
  coefX0: number;
  coefXt: number;
  /** Σ_t: β̃_t (fixedsmall) or β_t (fixedlarge); the step adds sqrt(Σ_t)·z except at t = 0. */
  variance: number;
}

export function ddpmCoefficients(s: Schedule, t: number, varianceType: VarianceType = 'fixedsmall'): DdpmCoefficients {
  if (!Number.isInteger(t) || t < 0 || t >= s.T) throw new RangeError(`step ${t} is outside [0, ${s.T - 1}]`);
  const ab = s.alphaBars[t];
  const abPrev = alphaBarPrev(s, t);
  const beta = s.betas[t];
  const posterior = (beta * (1 - abPrev)) / (1 - ab);
  return {
    sqrtAlphaBar: Math.sqrt(ab),
    sqrtOneMinusAlphaBar: Math.sqrt(1 - ab),
    coefX0: (beta * Math.sqrt(abPrev)) / (1 - ab),
    coefXt: ((1 - abPrev) * Math.sqrt(1 - beta)) / (1 - ab),
    variance: varianceType === 'fixedsmall' ? posterior : t === 0 ? posterior : beta,
  };
}

/** DDIM step t → tPrev (tPrev = −1 means clean data), with η scaling the injected noise. */
export function ddimCoefficients(s: Schedule, t: number, tPrev: number, eta = 0) {
  const ab = s.alphaBars[t];
  const abPrev = tPrev >= 0 ? s.alphaBars[tPrev] : 1;
  const sigma = eta * Math.sqrt((1 - abPrev) / (1 - ab)) * Math.sqrt(1 - ab / abPrev);
  return {
    sqrtAlphaBar: Math.sqrt(ab),
    sqrtOneMinusAlphaBar: Math.sqrt(1 - ab),
    /** x_{tPrev} = sqrt(ᾱ_prev)·x̂₀ + dirEps·ε + sigma·z */
    sqrtAlphaBarPrev: Math.sqrt(abPrev),
    dirEps: Math.sqrt(Math.max(1 - abPrev - sigma * sigma, 0)),
    sigma,
  };
}

/** Evenly spaced descending subset of steps from t* to 0 (inclusive), e.g. for DDIM. */
export function stepSubset(tStar: number, count: number): number[] {
  if (count < 1 || count > tStar + 1) throw new RangeError(`cannot take ${count} steps from t*=${tStar}`);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(Math.round(tStar - (i * tStar) / Math.max(count - 1, 1)));
  return [...new Set(out)];
}

/**
 * DiffPure's continuous VP-SDE time t ∈ (0, 1] (β_min 0.1, β_max 20) and the DDPM step with the
 * same ᾱ: t* = 0.1 ↔ step 100 of the linear schedule (DiffPure diffuses with ᾱ[t*·T − 1]).
 */
export const vpTimeToStep = (time: number, T = 1000) => Math.round(time * T) - 1;
export const stepToVpTime = (step: number, T = 1000) => (step + 1) / T;
export const vpAlphaBar = (time: number, betaMin = 0.1, betaMax = 20) => Math.exp(-0.5 * (betaMax - betaMin) * time * time - betaMin * time);
