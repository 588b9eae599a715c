#!/usr/bin/env node
// Test runner: test/**/*.test.ts files one at a time, each in its own process (each owns a GPU
// device), except that the files of a SHARED_PROCESS_DIRS folder run together in one process, with
// a time limit per file so nothing can hang CI. Usage: npm test [-- pattern...]
// One random seed per run (PURIFY_TEST_SEED to replay one) reaches every file; a failed file is
// listed with the command that replays it.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

const FILE_TIMEOUT_MS = Number(process.env.PURIFY_TEST_TIMEOUT_MS ?? 15 * 60_000);
/**
 * The op tests run every kernel variant, and each variant's engine compiles every kernel first
 * (~2 s per variant on lavapipe): once per process, not once per op-test file.
 */
const SHARED_PROCESS_DIRS = ['test/ops'];
const patterns = process.argv.slice(2);
const seed = process.env.PURIFY_TEST_SEED ?? String(Math.floor(Math.random() * 2 ** 31));
console.log(`seed ${seed}`);

function find(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? find(path) : name.endsWith('.test.ts') ? [path] : [];
  });
}

const files = find('test').sort().filter((f) => !patterns.length || patterns.some((p) => f.includes(p)));
const batches = [];
for (const file of files) {
  const last = batches.at(-1);
  if (last && SHARED_PROCESS_DIRS.includes(dirname(file)) && dirname(last[0]) === dirname(file)) last.push(file);
  else batches.push([file]);
}

const reportDir = mkdtempSync(join(tmpdir(), 'purify-tests-'));
const results = [];
for (const [b, batch] of batches.entries()) {
  const report = join(reportDir, `${b}.jsonl`);
  const start = Date.now();
  const code = await new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'tools/run-test-file.mjs', ...batch], {
      stdio: 'inherit',
      env: { ...process.env, PURIFY_TEST_SEED: seed, PURIFY_TEST_REPORT: report },
    });
    const limit = FILE_TIMEOUT_MS * batch.length;
    const timer = setTimeout(() => {
      console.error(`\n${batch.join(', ')}: killed after ${limit / 1000} s`);
      child.kill('SIGKILL');
    }, limit);
    child.on('exit', (c, signal) => {
      clearTimeout(timer);
      done(signal ? 1 : c ?? 1);
    });
  });
  let reported = [];
  try {
    reported = readFileSync(report, 'utf8').trim().split('\n').filter(Boolean).map((line) => JSON.parse(line));
  } catch {
    // The process died before any file finished.
  }
  for (const file of batch) {
    const r = reported.find((x) => x.file === file);
    // A file without a report line never finished: the process crashed or was killed during it.
    results.push({ file: relative('.', file), code: r ? r.code : code || 1, seconds: r ? r.seconds : (Date.now() - start) / 1000 });
  }
}
rmSync(reportDir, { recursive: true, force: true });
console.log('\nTest files:');
for (const r of results) console.log(`  ${r.code === 0 ? 'ok  ' : 'FAIL'}  ${r.file}  (${r.seconds.toFixed(1)} s)`);
const failed = results.filter((r) => r.code !== 0);
console.log(`${results.length - failed.length} passed, ${failed.length} failed`);
for (const r of failed) console.log(`  replay: PURIFY_TEST_SEED=${seed} node tools/run-tests.mjs ${r.file}`);
process.exit(failed.length ? 1 : 0);
