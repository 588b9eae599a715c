// The `purify` command line end to end, as users run it: a real process, the shipped weights, real
// PNG files. Chains are a few steps long so the file stays fast; the engine tests cover the maths.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { crc32 } from 'node:zlib';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dataRoot } from '../../engine/data/datasets.ts';
import { imageGrid } from '../../engine/data/grid.ts';
import { decodePng, encodePng } from '../../engine/data/png.ts';
import { USAGE } from '../../tools/commands/usage.ts';

const dir = mkdtempSync(join(tmpdir(), 'purify-cli-'));
const digits = readdirSync(join(dataRoot(), 'samples')).filter((f) => f.startsWith('mnist_')).sort().slice(0, 3).map((f) => join(dataRoot(), 'samples', f));

function purify(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['tools/purify.mjs', ...args], { encoding: 'utf8', timeout: 5 * 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('purify run: PNG in, purified PNG and grid out, deterministic per seed', () => {
  const outs = ['a', 'b'].map((tag) => {
    const out = join(dir, `run-${tag}`);
    const r = purify('run', ...digits, '--out', out, '--method', 'agdm', '--tstar', '6', '--seed', '3');
    assert.is(r.code, 0, r.stderr);
    return out;
  });
  const written = readdirSync(outs[0]).filter((f) => f.endsWith('.png'));
  assert.ok(written.length >= digits.length, `wrote ${written.join(', ')}`);
  for (const f of written) assert.equal(readFileSync(join(outs[0], f)), readFileSync(join(outs[1], f)), `${f} identical for the same seed`);
  const first = decodePng(readFileSync(join(outs[0], written.find((f) => !f.includes('grid'))!)));
  assert.is(first.width, 28);
  assert.is(first.height, 28);
});

test('purify run: a wrong-size image fails with a clear message and writes nothing', () => {
  const big = join(dir, 'big.png');
  writeFileSync(big, encodePng({ width: 30, height: 30, channels: 1, data: new Uint8Array(900) }));
  const out = join(dir, 'run-bad');
  const r = purify('run', digits[0], big, '--out', out, '--tstar', '4');
  assert.is(r.code, 1);
  assert.match(r.stderr, /big\.png: 30×30 gray image, but the model takes 28×28 gray.*--fit/);
  assert.throws(() => readdirSync(out), 'no output directory for a failed run');
});

test('purify run: an unknown method or a non-numeric flag is rejected before any work', () => {
  assert.match(purify('run', digits[0], '--out', join(dir, 'x'), '--method', 'magic').stderr, /unknown method "magic"/);
  assert.match(purify('run', digits[0], '--out', join(dir, 'x'), '--tstar', 'ten').stderr, /--tstar must be a number/);
});

test('purify demo: table, grid and JSON naming the exact weights', () => {
  const json = join(dir, 'demo.json');
  const grid = join(dir, 'demo.png');
  const r = purify('demo', '--n', '4', '--grid-n', '3', '--methods', 'agdm,diffpure', '--tstar', '5', '--attack-steps', '3', '--json', json, '--grid', grid);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /\| defence \| clean accuracy \| attacked accuracy \| time \/ image \|/);
  const report = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(report.rows.map((row: { method: string }) => row.method), ['none', 'agdm', 'diffpure']);
  assert.is(report.labels.length, 4);
  for (const row of report.rows) {
    assert.ok(row.clean >= 0 && row.clean <= 1 && row.attacked >= 0 && row.attacked <= 1);
    const hits = row.predictions.attacked.filter((p: number, i: number) => p === report.labels[i]).length;
    assert.is(hits / 4, row.attacked, `${row.method}: per-image predictions agree with the accuracy`);
  }
  assert.match(report.models.classifier, /^mnist-cnn \(sha256 [0-9a-f]{12}\)$/);
  assert.match(report.command, /^purify demo --n 4/);
  const png = decodePng(readFileSync(grid));
  const rows = ['clean', 'pgd', 'agdm', 'diffpure'].map((label) => ({ label, images: new Float32Array(3 * 784), n: 3, c: 1, h: 28, w: 28, captions: ['0', '0', '0'], correct: [true, true, true] }));
  const threeWide = decodePng(imageGrid(rows));
  assert.equal([png.width, png.height], [threeWide.width, threeWide.height], 'four rows of three images (--grid-n 3)');
});

test('purify with no command prints usage; an unknown command says so and fails', () => {
  const none = purify();
  assert.is(none.code, 0);
  assert.match(none.stdout, /usage: purify <command>/);
  assert.match(none.stdout, /demo .*--grid-n/);
  const r = purify('frobnicate');
  assert.is(r.code, 2);
  assert.match(r.stderr, /^purify: unknown command "frobnicate"/);
});

test('every command answers --help with its usage; --version prints the package version', () => {
  for (const name of Object.keys(USAGE)) {
    const r = purify(name, '--help');
    assert.is(r.code, 0, `${name} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^usage: purify ${name}`), name);
  }
  assert.match(purify('run', '--help').stdout, /--tstar N .*agdm 70/);
  const v = purify('--version');
  assert.is(v.code, 0);
  assert.is(v.stdout.trim(), JSON.parse(readFileSync('package.json', 'utf8')).version);
});

/** Runs `purify run` expecting one clear line on stderr, a failing exit code and no output folder. */
function refused(args: string[], message: RegExp, code = 1): void {
  const out = join(dir, `refused-${Math.random().toString(36).slice(2)}`);
  const r = purify('run', ...args, '--out', out, '--tstar', '2');
  assert.is(r.code, code, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l && !/^(adapter: |compiled \d+ pipelines)/.test(l));
  assert.is(lines.length, 1, `one line, got:\n${r.stderr}`);
  assert.match(lines[0], message);
  assert.throws(() => readdirSync(out), `no output folder for: ${args.join(' ')}`);
}

test('purify run: bad flags and bad files are refused before any work, with one line each', () => {
  refused([digits[0], '--batch', '0'], /--batch must be a positive integer, got "0"/, 2);
  refused([digits[0], '--bogus'], /Unknown option '--bogus'.*purify run --help/, 2);
  refused([dir], /is a directory, not an image file/);
  refused([join(dir, 'missing.png')], /missing\.png: no such file/);
  refused([digits[0], digits[0]], /would both be written to/);
  // A valid PNG header declaring 20000×20000 and almost no data: refused before inflating.
  const header = encodePng({ width: 1, height: 1, channels: 1, data: new Uint8Array(1) });
  const view = new DataView(header.buffer, header.byteOffset);
  view.setUint32(16, 20000);
  view.setUint32(20, 20000);
  view.setUint32(29, crc32(header.subarray(12, 29)));
  const huge = join(dir, 'huge.png');
  writeFileSync(huge, header);
  refused([huge], /20000×20000 image has 400000000 pixels, more than the limit/);
});

test('purify run: model files that fail to load or do not fit the denoiser fail the run', () => {
  const truncated = join(dir, 'truncated.safetensors');
  writeFileSync(truncated, readFileSync('weights/mnist-cnn.safetensors').subarray(0, 1000));
  refused([digits[0], '--classifier', digits[1]], /mnist_01_1\.png|safetensors/);
  refused([digits[0], '--classifier', join(dir, 'nope.safetensors')], /nope\.safetensors: no such weight file/);
  refused([digits[0], '--classifier', dir], /is a directory, not a weight file/);
  refused([digits[0], '--classifier', truncated], /truncated\.safetensors/);
  refused([digits[0], '--classifier', 'resnet20'], /classifier resnet20 takes 3×32×32 images, but denoiser .* purifies 1×28×28/);
  refused([digits[0], '--guidance', 'resnet20'], /guidance network resnet20 takes 3×32×32 images/);
});

test('purify run: same file names in two folders keep their folders; --json lists labels; no Dawn noise', () => {
  for (const sub of ['a', 'b']) {
    mkdirSync(join(dir, 'tree', sub), { recursive: true });
    copyFileSync(digits[sub === 'a' ? 0 : 1], join(dir, 'tree', sub, 'x.png'));
  }
  const out = join(dir, 'run-tree');
  const json = join(dir, 'run.json');
  const r = purify('run', join(dir, 'tree/a/x.png'), join(dir, 'tree/b/x.png'), '--out', out, '--method', 'diffpure', '--tstar', '3', '--json', json);
  assert.is(r.code, 0, r.stderr);
  assert.not.match(r.stderr, /artificially reduced/);
  assert.not.match(r.stderr, /\d\.\d+\/\d/, 'progress in whole steps');
  assert.equal(readdirSync(out).sort(), ['a', 'b', 'grid.png']);
  const report = JSON.parse(readFileSync(json, 'utf8'));
  assert.is(report.options.method, 'diffpure');
  assert.equal(report.images.map((i: { output: string }) => i.output), [join(out, 'a/x.purified.png'), join(out, 'b/x.purified.png')]);
  assert.ok(report.images.every((i: { before: number; after: number }) => Number.isInteger(i.before) && Number.isInteger(i.after)));
  assert.not.equal(readFileSync(join(out, 'a/x.purified.png')), readFileSync(join(out, 'b/x.purified.png')));
});

test.run();
