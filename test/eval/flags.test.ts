// Per-image flags: robust and worst-case flags follow AutoAttack's convention (ANDed with clean
// correctness), shards join into the whole run's flags, and a join with a gap, an overlap or other
// attacks is refused; --shard K/N splits the images into contiguous, covering blocks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { joinFlags, robustFlags, summarizeFlags, worstCaseFlags, type PerImageFlags } from '../../engine/eval/flags.ts';
import { parseShard, shardRange } from '../../engine/eval/shard.ts';

const T = true;
const F = false;
/** 6 images, 2 seeds; image 2 fools nobody but is wrong clean under seed 0. */
const whole: PerImageFlags = {
  first: 0,
  n: 6,
  clean: [[T, T, F, T, T, F], [T, T, T, T, F, F]],
  attacks: { pgd: [[T, F, T, T, F, T], [T, F, T, F, F, T]], apgd: [[F, F, T, T, T, T], [T, F, T, T, T, T]] },
};
const part = (start: number, end: number): PerImageFlags => ({
  first: start,
  n: end - start,
  clean: whole.clean.map((row) => row.slice(start, end)),
  attacks: Object.fromEntries(Object.entries(whole.attacks).map(([k, v]) => [k, v.map((row) => row.slice(start, end))])),
});

test('robust and worst-case flags are ANDed with clean correctness', () => {
  assert.equal(robustFlags(whole, 'pgd'), [[T, F, F, T, F, F], [T, F, T, F, F, F]]);
  assert.equal(worstCaseFlags(whole), [[F, F, F, T, F, F], [T, F, T, F, F, F]]);
  const s = summarizeFlags(whole);
  assert.equal(s.clean.perSeed, [4 / 6, 4 / 6]);
  assert.equal(s.robust.pgd.perSeed, [2 / 6, 2 / 6]);
  assert.equal(s.robust.apgd.perSeed, [2 / 6, 3 / 6]);
  assert.equal(s.worstCase.perSeed, [1 / 6, 2 / 6]);
  // Without the AND an image that is wrong clean (image 5) would count as robust to pgd.
  assert.ok(whole.attacks.pgd[0][5] && !robustFlags(whole, 'pgd')[0][5]);
});

test('shards join into the whole flags in any order', () => {
  assert.equal(joinFlags([part(3, 6), part(0, 2), part(2, 3)]), whole);
  assert.equal(summarizeFlags(joinFlags([part(0, 4), part(4, 6)])), summarizeFlags(whole));
});

test('a join with a gap, an overlap, other attacks or other seeds is refused', () => {
  assert.throws(() => joinFlags([part(0, 2), part(3, 6)]), /images 2–2 are missing/);
  assert.throws(() => joinFlags([part(0, 4), part(3, 6)]), /covered twice/);
  const other = { ...part(3, 6), attacks: { pgd: part(3, 6).attacks.pgd } };
  assert.throws(() => joinFlags([part(0, 3), other]), /other attacks/);
  const oneSeed = { ...part(3, 6), clean: [part(3, 6).clean[0]], attacks: { pgd: [part(3, 6).attacks.pgd[0]], apgd: [part(3, 6).attacks.apgd[0]] } };
  assert.throws(() => joinFlags([part(0, 3), oneSeed]), /1 seeds, not 2/);
  assert.throws(() => joinFlags([]), /no parts/);
});

test('--shard K/N: contiguous blocks that cover every image once; bad shards are refused', () => {
  for (const [n, count] of [[10, 3], [7, 7], [128, 5], [1, 1]]) {
    const ranges = Array.from({ length: count }, (_, index) => shardRange({ index, count }, n));
    assert.is(ranges[0].start, 0);
    assert.is(ranges.at(-1)!.end, n);
    ranges.forEach((r, i) => {
      assert.ok(r.end > r.start, `shard ${i}/${count} of ${n} is empty`);
      if (i) assert.is(r.start, ranges[i - 1].end);
    });
  }
  assert.equal(parseShard('2/4'), { index: 2, count: 4 });
  for (const bad of ['4/4', '1', '-1/3', 'a/b', '0/0', '1/2/3']) assert.throws(() => parseShard(bad), /K\/N with 0 ≤ K < N/, bad);
  assert.throws(() => shardRange({ index: 0, count: 5 }, 3), /leave some empty/);
});

test.run();
