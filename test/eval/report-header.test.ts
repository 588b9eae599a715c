// The report's header names every model its runs used: runs side by side (a bare-classifier run
// first, a purifier run after it) must not show the denoiser as absent because the first run had none.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { renderReport, type EvalReport } from '../../tools/commands/eval-report.ts';

const run = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as EvalReport;

test('the header lists the models of every run, whichever comes first', () => {
  const bare = run('reports/mnist-adaptive-3264/bare.shard-0.json');
  const agdm = run('reports/mnist-adaptive-3264/agdm.shard-0.json');
  assert.is(bare.models.denoiser, null, 'the fixture needs a run without a denoiser first');
  const header = renderReport([bare, agdm], 't').split('\n')[2];
  assert.match(header, new RegExp(`denoiser \`${agdm.models.denoiser!.name}\` \\(sha256 ${agdm.models.denoiser!.sha256.slice(0, 12)}\\)`));
  assert.match(header, new RegExp(`guidance network \`mnist-guidance\` \\(sha256 ${agdm.models.guidance!.sha256.slice(0, 12)}\\);`));
});

test('runs that used different weights in one role show both', () => {
  const agdm = run('reports/mnist-adaptive-3264/agdm.shard-0.json');
  const older = run('reports/mnist-adaptive/agdm.shard-0.json');
  const header = renderReport([agdm, older], 't').split('\n')[2];
  assert.match(header, new RegExp(`${agdm.models.guidance!.sha256.slice(0, 12)}\\) and \`mnist-guidance\` \\(sha256 ${older.models.guidance!.sha256.slice(0, 12)}`));
});

test.run();
