// `purify card WEIGHTS`: a classifier's model card from measurements — clean accuracy on the whole
// test set, then robust accuracy image by image under the attack suite of engine/eval/classifier-attacks.ts
// with restarts. Progress is saved after every block of images, so `--resume` continues a killed
// run; the JSON keeps every image's flags so any two rows can be paired later.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { loadDataset, type DatasetName } from '../../engine/data/datasets.ts';
import { cardAttacks, cleanCorrect, robustToAttack, type AttackTarget } from '../../engine/eval/classifier-attacks.ts';
import { percentWithInterval } from '../../engine/eval/stats.ts';
import { readSafetensorsMetadata } from '../../engine/io/safetensors.ts';
import { loadClassifier } from '../../engine/models/catalog.ts';
import { formatTime } from '../progress.ts';
import { sha256Hex } from './fingerprint.ts';
import { deviceOptions, engineFrom } from './options.ts';
import { positiveInteger } from './usage.ts';

interface CardState {
  weights: string;
  sha256: string;
  command: string;
  eps: number;
  n: number;
  restarts: number;
  seed: number;
  testN: number;
  cleanAccuracy: number;
  /** Per attack name: per image of the first n test images, robust (null: not attacked yet). */
  robust: Record<string, (boolean | null)[]>;
  /** Per attack name and image: restarts run so far (absent in older cards: `restarts` where attacked). */
  restartsDone?: Record<string, number[]>;
  seconds: Record<string, number>;
  adapter: string;
}

const BLOCK = 250;

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...deviceOptions,
      data: { type: 'string', default: 'mnist' },
      n: { type: 'string', default: '1000' },
      restarts: { type: 'string', default: '5' },
      eps: { type: 'string', default: '0.3' },
      seed: { type: 'string', default: '0' },
      only: { type: 'string' },
      curve: { type: 'string' },
      json: { type: 'string' },
      md: { type: 'string' },
      resume: { type: 'boolean', default: false },
    },
  });
  const weights = positionals[0];
  if (!weights || !existsSync(weights)) throw new Error(`usage: purify card WEIGHTS.safetensors [options]: ${weights ?? 'no weights file given'}${weights ? ' does not exist' : ''}`);
  const json = values.json ?? weights.replace(/\.safetensors$/, '.card.json');
  const md = values.md ?? weights.replace(/\.safetensors$/, '.md');
  const partial = `${json}.partial`;
  const eps = Number(values.eps);
  if (!(eps > 0 && eps <= 1)) throw new Error(`--eps must be in (0, 1], not ${values.eps}`);
  const attacks = cardAttacks(eps, positiveInteger('--restarts', values.restarts));
  const only = values.only?.split(',').map(Number);
  const chosen = only ? attacks.filter((_, i) => only.includes(i + 1)) : attacks;
  const engine = await engineFrom(values);
  const bytes = new Uint8Array(readFileSync(weights));
  const classifier = await loadClassifier(engine, weights);
  const test = loadDataset(values.data as DatasetName, 'test');
  const n = Math.min(positiveInteger('--n', values.n), test.n);
  const target: AttackTarget = { engine, classifier, images: test.images, labels: test.labels, eps, seed: Number(values.seed) };
  const sha256 = sha256Hex(bytes);

  let state: CardState;
  // A finished card's JSON holds the whole state too, so a committed card can be extended with more attacks.
  const saved = [partial, json].find((f) => values.resume && existsSync(f));
  if (saved) {
    state = JSON.parse(readFileSync(saved, 'utf8')) as CardState;
    delete (state as Partial<CardState> & { perImage?: unknown }).perImage;
    if (state.sha256 !== sha256 || state.n !== n || state.eps !== eps || state.seed !== target.seed) {
      throw new Error(`${saved} was written for other weights or settings; delete it or drop --resume`);
    }
    // More restarts continue the finished ones on the images still standing (robustToAttack's `from`); fewer cannot be undone.
    if (attacks[0].restarts < state.restarts) throw new Error(`${saved} already has ${state.restarts} restarts; --restarts ${attacks[0].restarts} cannot remove them`);
    state.restartsDone ??= Object.fromEntries(Object.entries(state.robust).map(([k, flags]) => [k, flags.map((f) => (f === null ? 0 : state.restarts))]));
    state.restarts = attacks[0].restarts;
    // A card extended by another command (more restarts) names both, so the text matches the table.
    const command = `purify card ${argv.join(' ')}`;
    if (!state.command.endsWith(command)) state.command += `, extended by: ${command}`;
    console.error(`resumed from ${saved}`);
  } else {
    const all = Array.from({ length: test.n }, (_, i) => i);
    const clean = await cleanCorrect(target, all);
    state = {
      weights, sha256, command: `purify card ${argv.join(' ')}`, eps, n, restarts: attacks[0].restarts, seed: target.seed, testN: test.n,
      cleanAccuracy: clean.filter(Boolean).length / test.n, robust: {}, seconds: {}, adapter: engine.describe(),
    };
    console.error(`clean accuracy: ${(100 * state.cleanAccuracy).toFixed(2)} % of ${test.n} test images`);
  }
  const save = () => {
    writeFileSync(`${partial}.tmp`, JSON.stringify(state));
    renameSync(`${partial}.tmp`, partial);
  };
  save();
  const firstN = Array.from({ length: n }, (_, i) => i);
  const clean = await cleanCorrect(target, firstN);
  for (const attack of chosen) {
    const flags = (state.robust[attack.name] ??= new Array(n).fill(null));
    const done = ((state.restartsDone ??= {})[attack.name] ??= new Array(n).fill(0));
    for (let start = 0; start < n; start += BLOCK) {
      const block = firstN.slice(start, start + BLOCK);
      const from = Math.min(...block.map((i) => (flags[i] === null ? 0 : done[i])));
      if (from >= attack.restarts) continue;
      const began = performance.now();
      const standing = block.map((i) => (from === 0 ? clean[i] : flags[i]!));
      const robust = await robustToAttack(target, block, standing, attack, (r, left) => {
        process.stderr.write(`\r${attack.name}: images ${start + 1}–${start + block.length} of ${n}, restart ${r + 1}/${attack.restarts}, ${left} standing   `);
      }, from);
      block.forEach((img, i) => {
        flags[img] = robust[i];
        done[img] = attack.restarts;
      });
      state.seconds[attack.name] = (state.seconds[attack.name] ?? 0) + (performance.now() - began) / 1000;
      save();
    }
    const acc = flags.filter(Boolean).length / n;
    console.error(`\n${attack.name}: ${(100 * acc).toFixed(2)} % robust of ${n} (${formatTime(state.seconds[attack.name])})`);
  }
  writeFileSync(json, `${JSON.stringify({ ...state, perImage: firstN.map((i) => ({ index: i, label: test.labels[i], clean: clean[i], ...Object.fromEntries(Object.entries(state.robust).map(([k, v]) => [k, v[i]])) })) }, null, 1)}\n`);
  writeFileSync(md, card(state, readSafetensorsMetadata(bytes, weights), clean, values.curve));
  // The JSON now holds everything the partial file did (--resume reads it to add attacks).
  rmSync(partial, { force: true });
  console.log(`wrote ${md} and ${json}`);
  engine.destroy();
}

const pct = (v: number) => `${(100 * v).toFixed(2)} %`;

interface CurveRow { update: number; seconds: number; cleanAccuracy: number; pgd20Accuracy: number; heldOut: number; robustN: number }

/**
 * The validation curves of one or more runs (comma-separated files, in training order: each later
 * run fine-tuned the one before with --init), one table, so the curve spans the whole history.
 */
function curveTable(paths: string | undefined, meta: Record<string, string>): string {
  const files = (paths ?? '').split(',').filter((f) => f && existsSync(f));
  const runs = files.map((f) => readFileSync(f, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as CurveRow));
  const points = runs.flat();
  if (!points.length) return '';
  const several = runs.length > 1;
  // Updates and seconds continue across runs: a fine-tuning run starts where the one before stopped.
  let updates = 0;
  let seconds = 0;
  const rows = runs.flatMap((run, r) => {
    const lines = run.map((p) => `| ${several ? `${r + 1} | ` : ''}${updates + p.update} | ${formatTime(seconds + p.seconds)} | ${pct(p.cleanAccuracy)} | ${pct(p.pgd20Accuracy)} |`);
    updates += run.at(-1)?.update ?? 0;
    seconds += run.at(-1)?.seconds ?? 0;
    return lines;
  });
  const history = several ? ` Runs in training order (${files.join(', ')}); each later run started from the one before's weights${meta.init ? ` (the last from ${meta.init})` : ''}, and its updates and times continue from the previous run's last measurement.` : '';
  return `\n## Validation curve (held-out training images, never trained on)\n\nClean accuracy on ${points[0].heldOut} held-out images; PGD-20 (α = 2.5ε/20, random start) on the first ${points[0].robustN} of them.${history}\n\n| ${several ? 'run | ' : ''}update | training time | clean | PGD-20 |\n|${several ? '---|' : ''}---|---|---|---|\n${rows.join('\n')}\n`;
}

function card(s: CardState, meta: Record<string, string>, clean: boolean[], curvePath: string | undefined): string {
  const names = Object.keys(s.robust).filter((k) => s.robust[k].every((v) => v !== null));
  const worst = clean.map((c, i) => c && names.every((k) => s.robust[k][i]));
  const restartsOf = (k: string) => Math.min(...(s.restartsDone?.[k] ?? [s.restarts]));
  const rows = names.map((k) => `| ${k} | ${restartsOf(k)} | ${percentWithInterval(s.robust[k].filter(Boolean).length, s.n, 2)} | ${formatTime(s.seconds[k])} |`).join('\n');
  const missing = Object.keys(s.robust).filter((k) => !names.includes(k));
  return `# ${meta.model ?? s.weights}

Trained by purify-gpu's own engine (\`purify train ${meta.training?.includes('trades') ? 'guidance' : 'classifier'}\`). License: MIT, like the project.

- Architecture (engine/models/small-cnn.ts): \`${meta.architecture ?? '?'}\`
- Training: \`${meta.training ?? '?'}\`
- Training time: ${meta.trained_seconds ? formatTime(Number(meta.trained_seconds)) : '?'} of training steps on ${meta.adapter ?? '?'}
- sha256 of the weights: \`${s.sha256}\`
${curveTable(curvePath, meta)}
## Measured robustness (L∞ ε = ${s.eps})

Clean accuracy: **${pct(s.cleanAccuracy)}** of all ${s.testN} test images. Robust accuracy on the first ${s.n} test images: an
image counts when it is classified correctly clean and no restart fools it (random start; restarts r = 0…${s.restarts - 1}
draw from seed ${s.seed} + r). ${s.adapter}, ${cpus().length} CPU cores.

| attack | restarts | robust accuracy [Wilson 95 %] | attack time |
|---|---|---|---|
${rows}
| worst case over the rows above | | **${percentWithInterval(worst.filter(Boolean).length, s.n, 2)}** | |
${missing.length ? `\nNot finished: ${missing.join(', ')} (resume with \`--resume\`).\n` : ''}
Command: \`${s.command}\`. Per-image flags: the card's JSON.
`;
}
