// Runs uvu test files one after another in this process and exits explicitly: dawn.node keeps the
// event loop alive, so uvu's own "exit when idle" never happens. Files run in one process share its
// engines (test/helpers/gpu.ts). With PURIFY_TEST_REPORT=FILE, appends one JSON line per test file
// ({ file, code, seconds }) for the runner. Usage: node --import tsx tools/run-test-file.mjs test/x.test.ts...
import { appendFileSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

globalThis.UVU_DEFER = 1;
let failed = false;
for (const file of process.argv.slice(2)) {
  const start = Date.now();
  // Named in the replay hints tests print (test/helpers/seed.ts).
  process.env.PURIFY_TEST_FILE = file;
  // A fresh uvu queue per file: uvu's test() and test.run() push onto globalThis.UVU_QUEUE.
  globalThis.UVU_QUEUE = [[basename(file)]];
  globalThis.UVU_INDEX = 0;
  process.exitCode = 0;
  try {
    await import(pathToFileURL(resolve(file)).href);
    const { exec } = await import('uvu');
    await exec();
  } catch (err) {
    console.error(err);
    process.exitCode = 1;
  }
  const code = process.exitCode ?? 0;
  failed ||= code !== 0;
  if (process.env.PURIFY_TEST_REPORT) appendFileSync(process.env.PURIFY_TEST_REPORT, `${JSON.stringify({ file, code, seconds: (Date.now() - start) / 1000 })}\n`);
}
process.exit(failed ? 1 : 0);
