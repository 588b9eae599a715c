// Before/after for any change, side by side in one run: checks out REV in a temporary git worktree
// (sharing this checkout's node_modules) and runs `purify bench --filter F` there and here in
// alternating rounds, so load drift reaches both sides alike; prints each case's range of median
// wall ms per side and the ratio of the medians. For shader-only edits tools/ab-shader.ts also
// compares outputs and per-op GPU time in one process.
// Usage: node --import tsx tools/ab-bench.ts REV [--filter "UNet step"] [--rounds 3] [--repeats 7]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { BenchRecord } from './bench/measure.ts';

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: { filter: { type: 'string', default: 'UNet step' }, rounds: { type: 'string', default: '3' }, repeats: { type: 'string', default: '7' } },
});
const rev = positionals[0];
if (!rev) throw new Error('usage: tools/ab-bench.ts REV [--filter F] [--rounds N] [--repeats N]');
const here = resolve(new URL('..', import.meta.url).pathname);
const scratch = mkdtempSync(join(tmpdir(), 'purify-ab-'));
const there = join(scratch, 'tree');
execFileSync('git', ['-C', here, 'worktree', 'add', '--detach', there, rev], { stdio: 'ignore' });
symlinkSync(join(here, 'node_modules'), join(there, 'node_modules'));
const sides = [
  { label: rev, root: there },
  { label: 'working tree', root: here },
];
const results = sides.map(() => new Map<string, number[]>());
console.log(`${rev} vs working tree: purify bench --filter "${values.filter}", ${values.rounds} rounds, load average ${loadavg()[0].toFixed(2)}`);
try {
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const [i, side] of sides.entries()) {
      const json = join(scratch, `bench-${i}.json`);
      execFileSync('node', ['tools/purify.mjs', 'bench', '--filter', values.filter, '--repeats', values.repeats, '--json', json], { cwd: side.root, stdio: ['ignore', 'ignore', 'pipe'] });
      for (const r of JSON.parse(readFileSync(json, 'utf8')) as BenchRecord[]) {
        const key = `${r.op} ${r.shape}`;
        results[i].set(key, [...(results[i].get(key) ?? []), r.ms]);
      }
    }
  }
} finally {
  execFileSync('git', ['-C', here, 'worktree', 'remove', '--force', there], { stdio: 'ignore' });
  rmSync(scratch, { recursive: true, force: true });
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
const range = (v: number[]) => `${Math.min(...v).toFixed(1)}–${Math.max(...v).toFixed(1)}`;
console.log(`| case | ${rev} ms | working tree ms | after / before |\n|---|---|---|---|`);
for (const [key, before] of results[0]) {
  const after = results[1].get(key);
  if (!after) continue;
  console.log(`| ${key} | ${range(before)} | ${range(after)} | ${(median(after) / median(before)).toFixed(3)} |`);
}
process.exit(0);
