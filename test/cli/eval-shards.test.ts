// `purify eval --shard K/N` + `purify eval merge` end to end with the shipped models on a tiny
// budget: the merged JSON and report equal the unsharded run's (all but wall times, dates and the
// command lines), the JSON records per-image flags, seeds, weight hashes and the exact commands, and
// merge refuses an incomplete set of shards unless --partial, which says which images it covers; a
// defence attacked in two runs merges into one row of both attacks.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SHIPPED_DATA } from '../../engine/data/datasets.ts';
import { classifierPath } from '../../engine/models/catalog.ts';

const dir = mkdtempSync(join(tmpdir(), 'purify-eval-cli-'));
const BASE = ['eval', '--defense', 'none,agdm', '--tstar', '1', '--attack', 'pgd,fgsm', '--eps', '0.15', '--steps', '2', '--eot', '1', '--n', '6', '--batch', '2', '--seeds', '2', '--sanity-n', '0', '--examples', '0'];

function purify(...args: string[]): string {
  const r = spawnSync(process.execPath, ['tools/purify.mjs', ...args], { encoding: 'utf8', timeout: 10 * 60_000 });
  assert.is(r.status, 0, r.stderr);
  return r.stdout;
}

/** The report without what differs between any two runs: wall times, dates, machine, command lines. */
function measured(json: string): unknown {
  return JSON.parse(readFileSync(json, 'utf8'), (key, value) => (['seconds', 'secondsPerImage', 'date', 'adapter', 'commands'].includes(key) ? undefined : value));
}
const tables = (md: string) => readFileSync(md, 'utf8').split('\n').filter((l) => l.startsWith('|'));

test('two shards merged equal the unsharded run', () => {
  purify(...BASE, '--json', join(dir, 'whole.json'), '--md', join(dir, 'whole.md'));
  for (const k of [1, 0]) purify(...BASE, '--shard', `${k}/2`, '--json', join(dir, `shard-${k}.json`));
  // Shards from machines that keep the same weights elsewhere are one run.
  const moved = JSON.parse(readFileSync(join(dir, 'shard-1.json'), 'utf8'));
  for (const m of Object.values(moved.models) as { file: string }[]) m.file = `/elsewhere/${m.file}`;
  writeFileSync(join(dir, 'shard-1.json'), JSON.stringify(moved));
  purify('eval', 'merge', join(dir, 'shard-0.json'), join(dir, 'shard-1.json'), '--json', join(dir, 'merged.json'), '--md', join(dir, 'merged.md'));
  assert.equal(measured(join(dir, 'merged.json')), measured(join(dir, 'whole.json')));
  assert.equal(tables(join(dir, 'merged.md')), tables(join(dir, 'whole.md')));

  const whole = JSON.parse(readFileSync(join(dir, 'whole.json'), 'utf8'));
  assert.equal(whole.seeds, [0, 1]);
  assert.is(whole.models.classifier.sha256, createHash('sha256').update(readFileSync(classifierPath('mnist-cnn'))).digest('hex'));
  assert.match(whole.commands[0], /^purify eval --defense none,agdm .* --json /);
  const agdm = whole.defenses[1];
  assert.equal(agdm.purification.tStar, 1);
  assert.is(agdm.surrogate, null, 'no surrogate was asked for');
  assert.is(agdm.flags.clean.length, 2);
  assert.is(agdm.flags.attacks.pgd[0].length, 6);
  // Flags that are all equal would make the comparison vacuous.
  const all = whole.defenses.flatMap((d: { flags: { attacks: Record<string, boolean[][]> } }) => Object.values(d.flags.attacks).flat(2));
  assert.ok(all.includes(true) && all.includes(false), 'ε = 0.15 should fool some images and not others');
  const merged = JSON.parse(readFileSync(join(dir, 'merged.json'), 'utf8'));
  assert.is(merged.commands.length, 2);
  assert.not.ok('shard' in merged);
  const md = readFileSync(join(dir, 'whole.md'), 'utf8');
  assert.match(md, /### agdm against every other row \(paired, exact McNemar\)/);
  assert.match(md, /\| none \| clean \| \d+ \/ \d+, \d+ \/ \d+ \| [\d.]+, [\d.]+ \|/);
  assert.match(md, /% \[\d+\.\d, \d+\.\d\]/, 'Wilson intervals in the table');
});

test('a defence attacked in two runs (one attack each) merges into the row of one run of both attacks', () => {
  const withAttack = (attack: string) => BASE.map((a, i) => (BASE[i - 1] === '--attack' ? attack : a));
  purify(...withAttack('pgd'), '--json', join(dir, 'pgd.json'));
  purify(...withAttack('fgsm'), '--json', join(dir, 'fgsm.json'));
  purify('eval', 'merge', join(dir, 'pgd.json'), join(dir, 'fgsm.json'), '--json', join(dir, 'joined.json'), '--md', join(dir, 'joined.md'));
  assert.equal(measured(join(dir, 'joined.json')), measured(join(dir, 'whole.json')));
  assert.equal(tables(join(dir, 'joined.md')), tables(join(dir, 'whole.md')));
  assert.is(JSON.parse(readFileSync(join(dir, 'joined.json'), 'utf8')).commands.length, 2, 'both runs\' commands are kept');
  // Runs whose clean images were classified differently cannot be paired per image.
  const other = JSON.parse(readFileSync(join(dir, 'fgsm.json'), 'utf8'));
  other.defenses[1].flags.clean[0][0] = !other.defenses[1].flags.clean[0][0];
  writeFileSync(join(dir, 'fgsm-other.json'), JSON.stringify(other));
  const r = spawnSync(process.execPath, ['tools/purify.mjs', 'eval', 'merge', join(dir, 'pgd.json'), join(dir, 'fgsm-other.json')], { encoding: 'utf8' });
  assert.is(r.status, 1);
  assert.match(r.stderr, /agdm: two runs classify the same clean images differently/);
});

test('merge --stronger keeps the larger budget of an attack two runs both ran, and says what it superseded', () => {
  const withAttack = (attack: string, steps: string) => BASE.map((a, i) => (BASE[i - 1] === '--attack' ? attack : BASE[i - 1] === '--steps' ? steps : a));
  purify(...withAttack('pgd', '2'), '--json', join(dir, 'pgd-2.json'));
  purify(...withAttack('pgd', '4'), '--json', join(dir, 'pgd-4.json'));
  const refused = spawnSync(process.execPath, ['tools/purify.mjs', 'eval', 'merge', join(dir, 'pgd-2.json'), join(dir, 'pgd-4.json')], { encoding: 'utf8' });
  assert.is(refused.status, 1);
  assert.match(refused.stderr, /attack pgd was run in two runs .*--stronger/);
  const longer = JSON.parse(readFileSync(join(dir, 'pgd-4.json'), 'utf8'));
  for (const order of [['pgd-2.json', 'pgd-4.json'], ['pgd-4.json', 'pgd-2.json']]) {
    purify('eval', 'merge', ...order.map((f) => join(dir, f)), '--stronger', '--json', join(dir, 'stronger.json'), '--md', join(dir, 'stronger.md'));
    const merged = JSON.parse(readFileSync(join(dir, 'stronger.json'), 'utf8'));
    for (const [i, d] of merged.defenses.entries()) {
      assert.equal(d.attacks.map((a: { settings: { steps: number } }) => a.settings.steps), [4], `${order}: the 4-step pgd stays`);
      assert.equal(d.flags.attacks, longer.defenses[i].flags.attacks, `${order}: its per-image flags are the 4-step run's`);
      assert.equal(d.worstCase, longer.defenses[i].worstCase);
    }
    assert.match(readFileSync(join(dir, 'stronger.md'), 'utf8'), /- agdm \/ pgd at 2 steps × EOT 1 \([\d.]+ %\), superseded by 4 steps × EOT 1/);
  }
  // Another run at the same budget (here: another step size) is a real conflict, not a convergence check.
  for (const d of longer.defenses) for (const a of d.attacks) a.settings.stepSize = 0.01;
  writeFileSync(join(dir, 'pgd-4-other.json'), JSON.stringify(longer));
  const same = spawnSync(process.execPath, ['tools/purify.mjs', 'eval', 'merge', join(dir, 'pgd-4.json'), join(dir, 'pgd-4-other.json'), '--stronger'], { encoding: 'utf8' });
  assert.is(same.status, 1);
  assert.match(same.stderr, /same budget/);
});

test('scoring draws: a run scored under 3 noise draws pairs with a one-draw run on the draw both have', () => {
  const args = (defense: string, draws: string) => ['eval', '--defense', defense, '--tstar', '1', '--attack', 'fgsm', '--eps', '0.15', '--n', '6', '--batch', '3', '--sanity-n', '0', '--examples', '0', '--score-draws', draws];
  purify(...args('agdm', '3'), '--json', join(dir, 'draws.json'));
  purify(...args('none', '1'), '--json', join(dir, 'one-draw.json'));
  const drawn = JSON.parse(readFileSync(join(dir, 'draws.json'), 'utf8'));
  assert.is(drawn.scoreDraws, 3);
  assert.is(drawn.defenses[0].flags.clean.length, 3, 'one row per draw');
  assert.is(drawn.defenses[0].clean.perSeed.length, 3);
  purify('eval', 'merge', join(dir, 'draws.json'), join(dir, 'one-draw.json'), '--md', join(dir, 'draws.md'));
  const md = readFileSync(join(dir, 'draws.md'), 'utf8');
  // One McNemar entry: the first draw of seed 0, the one row the two runs share.
  assert.match(md, /\| none \| clean \(seed 0\) \| \d+ \/ \d+ \| [\d.e-]+ \|/);
  assert.match(md, /seeds 0 × 3 scoring draws/);
});

test('an attack on the guidance network is refused up front for defences without one', () => {
  const json = join(dir, 'refused.json');
  const r = spawnSync(process.execPath, ['tools/purify.mjs', ...BASE.map((a) => (a === 'pgd,fgsm' ? 'pgd,apgd-hijack-t' : a)), '--json', json], { encoding: 'utf8' });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /--attack apgd-hijack-t attacks AGDM's guidance network; --defense none has none/);
  assert.not.match(r.stderr, /adapter: /, 'refused before any GPU work');
  assert.throws(() => readFileSync(`${json}.checkpoint`), 'no checkpoint written');
});

test('--n beyond the data folder is refused, not quietly shrunk', () => {
  // The package's own data/ holds the first 256 MNIST test images.
  const r = spawnSync(process.execPath, ['tools/purify.mjs', ...BASE.map((a) => (a === '6' ? '300' : a)), '--shard', '1/8'], { encoding: 'utf8', env: { ...process.env, PURIFY_DATA: SHIPPED_DATA } });
  assert.is(r.status, 1, r.stderr);
  assert.match(r.stderr, /--n 300: the mnist test set in .* holds 256 images; set PURIFY_DATA/);
  assert.not.match(r.stderr, /adapter: /, 'refused before any GPU work');
});

test('merge refuses a missing shard', () => {
  const r = spawnSync(process.execPath, ['tools/purify.mjs', 'eval', 'merge', join(dir, 'shard-1.json')], { encoding: 'utf8' });
  assert.is(r.status, 1);
  assert.match(r.stderr, /shards 1\/2 given: a run of 2 shards needs each of 0\/2 … 1\/2 once/);
});

test('merge --partial reports an unfinished run over its finished shards and says which images they are', () => {
  purify('eval', 'merge', join(dir, 'shard-1.json'), '--partial', '--json', join(dir, 'partial.json'), '--md', join(dir, 'partial.md'));
  assert.equal(measured(join(dir, 'partial.json')), measured(join(dir, 'shard-1.json')));
  assert.match(readFileSync(join(dir, 'partial.md'), 'utf8'), /mnist test images 3–5 of a run over the first 6 \(unfinished/);
});

test('merge --images reports a subset of the images: every number from those images alone', () => {
  purify('eval', 'merge', join(dir, 'shard-0.json'), join(dir, 'shard-1.json'), '--images', '3-5', '--json', join(dir, 'subset.json'), '--md', join(dir, 'subset.md'));
  const defenses = (json: string) => (measured(json) as { defenses: unknown[] }).defenses;
  // Images 3–5 are shard 1's: restricting the whole run to them must give shard 1's numbers exactly.
  assert.equal(defenses(join(dir, 'subset.json')), defenses(join(dir, 'shard-1.json')));
  assert.not.equal(defenses(join(dir, 'merged.json')), defenses(join(dir, 'shard-1.json')), 'the whole run differs from the subset');
  assert.match(readFileSync(join(dir, 'subset.md'), 'utf8'), /mnist test images 3–5 only, of a run over the first 6/);
  for (const [range, message] of [['3-9', /images 3–9 are not all measured: the flags cover images 0–5/], ['5-3', /--images must be FIRST-LAST/]] as const) {
    const r = spawnSync(process.execPath, ['tools/purify.mjs', 'eval', 'merge', join(dir, 'merged.json'), '--images', range], { encoding: 'utf8' });
    assert.is(r.status, 1);
    assert.match(r.stderr, message);
  }
});

test.run();
