// Which MNIST images may tune the defence (t*, s, schedules) and which may score it, so no reported
// number comes from images its settings were chosen on (issue 10, item 6). Evaluations take the
// first test images, 0–4,999; tuning takes test images 5,000–9,999 or any training image. A range
// that crosses the line is refused, whichever side asks.
import type { DatasetSplit } from '../data/datasets.ts';

/** Images start ≤ i < end of one split. */
export interface ImageRange {
  split: DatasetSplit;
  start: number;
  end: number;
}

export const EVALUATION_RANGE: ImageRange = { split: 'test', start: 0, end: 5000 };
export const TUNING_TEST_RANGE: ImageRange = { split: 'test', start: 5000, end: 10000 };

export class TuningSplitError extends RangeError {}

export const describeRange = (r: ImageRange) => `MNIST ${r.split} images ${r.start}–${r.end - 1}`;

export const overlaps = (a: ImageRange, b: ImageRange) => a.split === b.split && a.start < b.end && b.start < a.end;

function checkWellFormed(r: ImageRange): void {
  if (!Number.isInteger(r.start) || !Number.isInteger(r.end) || r.start < 0 || r.end <= r.start) throw new TuningSplitError(`not an image range: ${r.start}–${r.end}`);
}

/** Refuses tuning on any image an evaluation may score. */
export function checkTuningRange(r: ImageRange): void {
  checkWellFormed(r);
  if (overlaps(r, EVALUATION_RANGE)) {
    throw new TuningSplitError(`${describeRange(r)} overlap the evaluation images (${describeRange(EVALUATION_RANGE)}): tune on ${describeRange(TUNING_TEST_RANGE)} or on training images`);
  }
}

/** Refuses scoring any image the defaults may have been tuned on. */
export function checkEvaluationRange(r: ImageRange): void {
  checkWellFormed(r);
  if (r.split !== EVALUATION_RANGE.split || r.end > EVALUATION_RANGE.end) {
    throw new TuningSplitError(`${describeRange(r)} reach beyond the evaluation images (${describeRange(EVALUATION_RANGE)}): the rest are for tuning`);
  }
}
