// The tuning split: tuning ranges that touch the evaluation images are refused, evaluation ranges
// that reach the tuning images are refused, and the sweep tool refuses before running anything.
import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TuningSplitError, checkEvaluationRange, checkTuningRange, overlaps } from '../../engine/eval/tuning-split.ts';

const refused = (e: Error) => e instanceof TuningSplitError;

test('tuning ranges: test 5000–9999 and training images pass; anything touching test 0–4999 is refused', () => {
  checkTuningRange({ split: 'test', start: 5000, end: 5032 });
  checkTuningRange({ split: 'test', start: 9000, end: 10000 });
  checkTuningRange({ split: 'train', start: 0, end: 60000 });
  for (const r of [{ start: 0, end: 32 }, { start: 4999, end: 5031 }, { start: 4000, end: 10000 }]) {
    assert.throws(() => checkTuningRange({ split: 'test', ...r }), (e: Error) => e instanceof TuningSplitError && /overlap the evaluation images/.test(e.message), `${r.start}–${r.end}`);
  }
  assert.throws(() => checkTuningRange({ split: 'test', start: 5000, end: 5000 }), refused);
  assert.throws(() => checkTuningRange({ split: 'test', start: NaN, end: 32 }), refused);
});

test('evaluation ranges: within test 0–4999 pass; reaching the tuning images or training images is refused', () => {
  checkEvaluationRange({ split: 'test', start: 0, end: 128 });
  checkEvaluationRange({ split: 'test', start: 256, end: 5000 });
  assert.throws(() => checkEvaluationRange({ split: 'test', start: 4990, end: 5001 }), refused);
  assert.throws(() => checkEvaluationRange({ split: 'train', start: 0, end: 10 }), refused);
  assert.ok(overlaps({ split: 'test', start: 0, end: 10 }, { split: 'test', start: 9, end: 20 }));
  assert.not.ok(overlaps({ split: 'test', start: 0, end: 10 }, { split: 'test', start: 10, end: 20 }));
  assert.not.ok(overlaps({ split: 'test', start: 0, end: 10 }, { split: 'train', start: 0, end: 10 }));
});

test('sweep-guidance refuses to tune on evaluation images, before loading any model', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'tools/sweep-guidance.ts', ...args], { encoding: 'utf8', env: { ...process.env, PURIFY_ADAPTER: 'no-such-adapter' } });
  for (const args of [['--start', '0'], ['--start', '4990', '--n', '32']]) {
    const r = run(...args);
    assert.is.not(r.status, 0, `sweep ${args.join(' ')} ran`);
    assert.match(r.stderr, /overlap the evaluation images/, r.stderr);
  }
});

test.run();
