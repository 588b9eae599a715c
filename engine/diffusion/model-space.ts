// The affine map between [0, 1] images and the space a denoiser models: 'unit' keeps [0, 1],
// 'symmetric' is 2x − 1. Purification, sampling and DDPM training all cross it, so it is defined once.
import type { Denoiser } from '../models/types.ts';

export interface AffineMap { a: number; b: number }

export function modelSpace(denoiser: Pick<Denoiser, 'dataRange'>): { toModel: AffineMap; toUnit: AffineMap } {
  const toModel = denoiser.dataRange === 'symmetric' ? { a: 2, b: -1 } : { a: 1, b: 0 };
  return { toModel, toUnit: { a: 1 / toModel.a, b: -toModel.b / toModel.a } };
}
