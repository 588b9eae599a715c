// Runs one uvu test file and exits explicitly: dawn.node keeps the event loop alive, so uvu's own
// "exit when idle" never happens. Usage: node --import tsx tools/run-test-file.mjs test/x.test.ts
import { basename, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const file = process.argv[2];
// Named in the replay hints tests print (test/helpers/seed.ts).
process.env.PURIFY_TEST_FILE = file;
globalThis.UVU_DEFER = 1;
globalThis.UVU_QUEUE = [[basename(file)]];
globalThis.UVU_INDEX = 0;
try {
  await import(pathToFileURL(resolve(file)).href);
  const { exec } = await import('uvu');
  await exec();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
}
process.exit(process.exitCode ?? 0);
