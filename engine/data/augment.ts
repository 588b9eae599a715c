// Training-time augmentation on CPU-held batches (NCHW float32): random translations by whole
// pixels with zero fill. Digits sit centred in MNIST's 28×28 frame, so a ±2-pixel shift keeps them
// whole and is the classic regulariser that lifts a small CNN past 99 % (LeCun et al. 1998 used
// affine distortions to the same end). Seeded per batch so runs and resumes are reproducible.

/** xorshift32 stream in [0, 1). */
function uniformStream(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

/** Shifts one image (C×H×W, in place into `out`) by (dy, dx) pixels, filling uncovered pixels with 0. */
export function shiftImage(src: Float32Array, out: Float32Array, channels: number, height: number, width: number, dy: number, dx: number): void {
  out.fill(0);
  for (let c = 0; c < channels; c++) {
    for (let y = Math.max(0, dy); y < Math.min(height, height + dy); y++) {
      const from = c * height * width + (y - dy) * width;
      const to = c * height * width + y * width;
      for (let x = Math.max(0, dx); x < Math.min(width, width + dx); x++) out[to + x] = src[from + x - dx];
    }
  }
}

/** Applies an independent random shift in [−maxShift, maxShift]² to every image of the batch, in place. */
export function randomShiftBatch(batch: Float32Array, n: number, channels: number, height: number, width: number, maxShift: number, seed: number): void {
  if (maxShift <= 0) return;
  const per = channels * height * width;
  const next = uniformStream(seed);
  const copy = new Float32Array(per);
  const span = 2 * maxShift + 1;
  for (let i = 0; i < n; i++) {
    const dy = Math.floor(next() * span) - maxShift;
    const dx = Math.floor(next() * span) - maxShift;
    if (dy === 0 && dx === 0) continue;
    const image = batch.subarray(i * per, (i + 1) * per);
    copy.set(image);
    shiftImage(copy, image, channels, height, width, dy, dx);
  }
}
