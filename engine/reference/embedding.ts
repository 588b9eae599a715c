// Float64 reference for sinusoidal timestep embeddings (see engine/ops/embedding.ts for the layouts).
import { nd, type Nd } from './nd.ts';

export function timestepEmbedding(timesteps: number[], dim: number, layout: 'interleaved' | 'sin-cos' | 'cos-sin', maxPeriod = 10000, downscaleFreqShift = 0): Nd {
  const half = Math.floor(dim / 2);
  const out = nd([timesteps.length, dim]);
  timesteps.forEach((t, r) => {
    for (let i = 0; i < half; i++) {
      const angle = t * Math.exp((-Math.log(maxPeriod) * i) / (half - downscaleFreqShift));
      const [sin, cos] = [Math.sin(angle), Math.cos(angle)];
      const row = r * dim;
      if (layout === 'interleaved') [out.data[row + 2 * i], out.data[row + 2 * i + 1]] = [sin, cos];
      else if (layout === 'sin-cos') [out.data[row + i], out.data[row + half + i]] = [sin, cos];
      else [out.data[row + i], out.data[row + half + i]] = [cos, sin];
    }
  });
  return out;
}
