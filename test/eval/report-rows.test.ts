// Every row of an eval JSON carries the Wilson 95 % intervals its table prints, so a reader of the
// JSON alone (or a script over many runs) has the interval without re-deriving it from the flags.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderReport, reportRows, type DefenseReport, type EvalReport } from '../../tools/commands/eval-report.ts';

const summary = (perSeed: number[]) => ({ mean: perSeed.reduce((a, b) => a + b, 0) / perSeed.length, std: 0, perSeed });

test('rows carry Wilson intervals at the seed-mean count (known values)', () => {
  // 7 of 10 and, over three draws, 7, 7 and 8 of 10 (mean 7.33, the table rounds to 7): Wilson 1927
  // gives [0.3968, 0.8922] for 7 / 10; 10 / 10 gives [0.7225, 1].
  const defense = {
    defense: 'agdm',
    clean: summary([1]),
    worstCase: summary([0.7, 0.7, 0.8]),
    attacks: [{ attack: 'pgd', robust: summary([0.7]) }],
    flags: { n: 10 },
  } as unknown as DefenseReport;
  const rows = reportRows({ defenses: [defense], seeds: [0] } as unknown as Omit<EvalReport, 'rows'>);
  assert.is(rows.length, 2);
  for (const row of rows) {
    assert.ok(Math.abs(row.robustWilson95.low - 0.3968) < 1e-4 && Math.abs(row.robustWilson95.high - 0.8922) < 1e-4, `${row.attack}: ${JSON.stringify(row.robustWilson95)}`);
    assert.ok(Math.abs(row.cleanWilson95.low - 0.7225) < 1e-4 && row.cleanWilson95.high === 1, JSON.stringify(row.cleanWilson95));
  }
});

test('a committed run: each row interval is the one its table prints', () => {
  const run = JSON.parse(readFileSync('reports/mnist-adaptive-3264/agdm.shard-0.json', 'utf8')) as EvalReport;
  const table = renderReport([run], 't');
  const pct = (v: number) => (100 * v).toFixed(1);
  const rows = reportRows(run);
  assert.ok(rows.length > 1);
  for (const row of rows) assert.ok(table.includes(`[${pct(row.robustWilson95.low)}, ${pct(row.robustWilson95.high)}]`), `${row.defense} ${row.attack}: [${pct(row.robustWilson95.low)}, ${pct(row.robustWilson95.high)}] is not in the table`);
});

test.run();
