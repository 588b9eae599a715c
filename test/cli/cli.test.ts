// The `purify` command line end to end, as users run it: a real process, the shipped weights, real
// PNG files. Chains are a few steps long so the file stays fast; the engine tests cover the maths.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dataRoot } from '../../engine/data/datasets.ts';
import { imageGrid } from '../../engine/data/grid.ts';
import { decodePng, encodePng } from '../../engine/data/png.ts';

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
  assert.match(r.stderr, /big\.png: 1×30×30 image, but .* purifies 1×28×28/);
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

test('purify with no or an unknown command prints usage', () => {
  const r = purify('frobnicate');
  assert.is(r.code, 2);
  assert.match(r.stdout, /usage: purify <command>/);
  assert.match(r.stdout, /demo .*--grid-n/);
});

test.run();
