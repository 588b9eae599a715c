// Sinusoidal timestep embeddings: every layout, odd dims, shifts and periods, t over [0, 999], and
// fractional timesteps up to 4095. No gradient (timesteps are not differentiable).
// Bound: timestep_embedding.wgsl reduces the argument exactly in turns; what rounds are the small
// terms frac·hi, frac·mid, whole·lo and frac·lo and their sum (≤ 4U of a turn, 2π·4U rad), then
// sin on [−π, π] (about 2U absolute on lavapipe and real GPUs; Vulkan itself only promises 2⁻¹¹).
import { timestepEmbedding, type EmbeddingLayout } from '../../../engine/ops/embedding.ts';
import * as ref from '../../../engine/reference/embedding.ts';
import { U } from '../../helpers/error-bound.ts';
import type { OpCase } from '../../helpers/op-case.ts';
import { SAFETY } from './bounds.ts';

const ARGUMENT_AND_SIN = SAFETY * (8 * Math.PI + 2) * U;
const ALL_STEPS = Array.from({ length: 1000 }, (_, t) => t);

function embeddingCase(name: string, steps: (random: () => number) => number[], dim: number, layout: EmbeddingLayout, maxPeriod = 10000, shift = 0): OpCase {
  return {
    op: 'timestepEmbedding',
    name: `timestepEmbedding ${layout} dim ${dim} period ${maxPeriod} shift ${shift} ${name}`,
    make: (random) => {
      // Timesteps travel as f32, so the reference gets the same rounded values.
      const t = steps(random).map(Math.fround);
      return {
        inputs: [],
        gpu: (_ts, engine) => timestepEmbedding(engine, t, dim, layout, { maxPeriod, downscaleFreqShift: shift }),
        ref: () => ref.timestepEmbedding(t, dim, layout, maxPeriod, shift),
        bounds: () => ({ forward: new Float64Array(t.length * dim).fill(ARGUMENT_AND_SIN), grads: [] }),
      };
    },
  };
}

const allSteps = () => ALL_STEPS;
const fractional = (random: () => number) => [0.5, 998.75, 4095, 2500.25, ...Array.from({ length: 61 }, () => random() * 1000)];

export const EMBEDDING_CASES: OpCase[] = [
  ...([[128, 'interleaved', 10000, 0], [128, 'sin-cos', 10000, 1], [32, 'cos-sin', 10000, 0], [7, 'sin-cos', 10000, 1], [9, 'cos-sin', 100, 0], [2, 'interleaved', 10000, 0], [64, 'sin-cos', 10000, 0]] as const)
    .map(([dim, layout, period, shift]) => embeddingCase('t = 0…999', allSteps, dim, layout, period, shift)),
  embeddingCase('t fractional, up to 4095', fractional, 128, 'sin-cos'),
];
