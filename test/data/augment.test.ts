import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomShiftBatch, shiftImage } from '../../engine/data/augment.ts';

/** Float64 reference: out[c, y, x] = src[c, y − dy, x − dx] where that lies inside, else 0. */
function referenceShift(src: Float32Array, c: number, h: number, w: number, dy: number, dx: number): Float64Array {
  const out = new Float64Array(src.length);
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const sy = y - dy;
        const sx = x - dx;
        out[(ch * h + y) * w + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? src[(ch * h + sy) * w + sx] : 0;
      }
    }
  }
  return out;
}

test('shiftImage matches the reference for every offset on odd sizes', () => {
  const [c, h, w] = [2, 5, 7];
  const src = Float32Array.from({ length: c * h * w }, () => Math.random() + 0.1);
  const out = new Float32Array(src.length);
  for (let dy = -3; dy <= 3; dy++) {
    for (let dx = -3; dx <= 3; dx++) {
      shiftImage(src, out, c, h, w, dy, dx);
      assert.equal(Array.from(out), Array.from(referenceShift(src, c, h, w, dy, dx), Math.fround), `shift (${dy}, ${dx})`);
    }
  }
});

test('randomShiftBatch is seeded, bounded and covers every offset', () => {
  const [n, h, w, maxShift] = [400, 9, 9, 2];
  // One bright pixel in the centre of each image reveals the offset applied to it.
  const make = () => {
    const batch = new Float32Array(n * h * w);
    for (let i = 0; i < n; i++) batch[i * h * w + 4 * w + 4] = 1;
    return batch;
  };
  const a = make();
  const b = make();
  randomShiftBatch(a, n, 1, h, w, maxShift, 42);
  randomShiftBatch(b, n, 1, h, w, maxShift, 42);
  assert.equal(a, b, 'same seed, same shifts');
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const image = a.subarray(i * h * w, (i + 1) * h * w);
    const at = image.indexOf(1);
    assert.ok(at >= 0, `image ${i} lost its pixel`);
    const [dy, dx] = [Math.floor(at / w) - 4, (at % w) - 4];
    assert.ok(Math.abs(dy) <= maxShift && Math.abs(dx) <= maxShift, `offset (${dy}, ${dx}) out of range`);
    seen.add(`${dy},${dx}`);
  }
  assert.is(seen.size, (2 * maxShift + 1) ** 2, 'all 25 offsets drawn');
  const c = make();
  randomShiftBatch(c, n, 1, h, w, maxShift, 43);
  assert.not.equal(a, c, 'another seed, other shifts');
  const d = make();
  randomShiftBatch(d, n, 1, h, w, 0, 42);
  assert.equal(d, make(), 'maxShift 0 leaves the batch alone');
});

test.run();
