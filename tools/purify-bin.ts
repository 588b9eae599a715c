#!/usr/bin/env node
// The `purify` executable. Help and --version are answered here at once. Anything else runs
// tools/cli in a child process whose stderr passes through a filter: Dawn prints "… artificially
// reduced …" limit warnings from native code straight to file descriptor 2 on every device it
// opens, which no JavaScript in that process can intercept, and which say nothing to a user.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { answerWithoutEngine } from './commands/usage.ts';

const DAWN_NOISE = /^Warning: \w+ artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/;
const args = process.argv.slice(2);
const answer = answerWithoutEngine(args);
if (answer) {
  if (answer.out) process.stdout.write(answer.out + '\n');
  if (answer.err) process.stderr.write(answer.err + '\n');
  process.exit(answer.code);
}

const fromSource = import.meta.url.endsWith('.ts');
const cli = new URL(fromSource ? './cli.ts' : './cli.js', import.meta.url);
const child = spawn(process.execPath, [...(fromSource ? ['--import', 'tsx'] : []), cli.pathname, ...args], {
  stdio: ['inherit', 'inherit', 'pipe'],
  // The child's stderr is a pipe; tell its progress bars whether a terminal is really there.
  env: { ...process.env, ...(process.stderr.isTTY && { PURIFY_STDERR_COLUMNS: String(process.stderr.columns ?? 120) }) },
});
let pending = '';
child.stderr.setEncoding('utf8');
child.stderr.on('data', (chunk: string) => {
  const lines = (pending + chunk).split('\n');
  pending = lines.pop()!;
  const kept = lines.filter((line) => !DAWN_NOISE.test(line));
  if (kept.length) process.stderr.write(kept.join('\n') + '\n');
  // A progress bar redraws one line with \r and no newline: pass it on now, unless it may be a warning's start.
  if (pending && !'Warning: '.startsWith(pending.slice(0, 9))) {
    process.stderr.write(pending);
    pending = '';
  }
});
child.stderr.on('end', () => pending && !DAWN_NOISE.test(pending) && process.stderr.write(pending));
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0)));
