#!/usr/bin/env node
// Test runner: each test/**/*.test.ts file in its own process (each owns a GPU device), one at a
// time, with a per-file time limit so nothing can hang CI. Usage: npm test [-- pattern...]
// One random seed per run (PURIFY_TEST_SEED to replay one) reaches every file; a failed file is
// listed with the command that replays it.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const FILE_TIMEOUT_MS = Number(process.env.PURIFY_TEST_TIMEOUT_MS ?? 15 * 60_000);
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
const results = [];
for (const file of files) {
  const start = Date.now();
  const code = await new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'tools/run-test-file.mjs', file], { stdio: 'inherit', env: { ...process.env, PURIFY_TEST_SEED: seed } });
    const timer = setTimeout(() => {
      console.error(`\n${file}: killed after ${FILE_TIMEOUT_MS / 1000} s`);
      child.kill('SIGKILL');
    }, FILE_TIMEOUT_MS);
    child.on('exit', (c, signal) => {
      clearTimeout(timer);
      done(signal ? 1 : c ?? 1);
    });
  });
  results.push({ file: relative('.', file), code, seconds: (Date.now() - start) / 1000 });
}
console.log('\nTest files:');
for (const r of results) console.log(`  ${r.code === 0 ? 'ok  ' : 'FAIL'}  ${r.file}  (${r.seconds.toFixed(1)} s)`);
const failed = results.filter((r) => r.code !== 0);
console.log(`${results.length - failed.length} passed, ${failed.length} failed`);
for (const r of failed) console.log(`  replay: PURIFY_TEST_SEED=${seed} node tools/run-tests.mjs ${r.file}`);
process.exit(failed.length ? 1 : 0);
