// The classifier trainer (engine/train/trainer.ts) under TRADES on real MNIST images, with a tiny
// CNN: an interrupted and resumed run equals an uninterrupted one bit for bit, training lowers the
// loss, and `purify train guidance --init` starts from the given weights (or refuses a file whose
// shapes do not fit, naming them); `purify card --curve A,B` shows a fine-tuned network's whole
// training history as one curve.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Engine } from '../../engine/index.ts';
import { loadDataset } from '../../engine/data/datasets.ts';
import { toFloat32 } from '../../engine/io/raw-tensor.ts';
import { readSafetensors, readSafetensorsMetadata } from '../../engine/io/safetensors.ts';
import { cnnClassifier, cnnSpecs, type CnnConfig } from '../../engine/models/small-cnn.ts';
import { Params } from '../../engine/nn/params.ts';
import { Trainer, type TrainConfig } from '../../engine/train/trainer.ts';
import { getEngine } from '../helpers/gpu.ts';

const TINY: CnnConfig = { inChannels: 1, size: 28, channels: [2, 4], hidden: 8, classes: 10 };
const CFG: TrainConfig = {
  epochs: 2, batch: 8, optimizer: { kind: 'adam', lr: 3e-3, weightDecay: 0 }, schedule: 'cosine', seed: 5, limit: 32,
  trades: { beta: 6, eps: 0.3, steps: 2, stepSize: 0.15, divergence: 'kl' },
};
const data = loadDataset('mnist', 'train', { limit: 32 });
const dir = mkdtempSync(join(tmpdir(), 'purify-trades-'));

/** Weights and optimiser state after a run; `stopAtUpdate` simulates a kill right after that update's checkpoint. */
async function runState(engine: Engine, opts: { checkpoint?: string; resume?: boolean; stopAtUpdate?: number }): Promise<{ state: Map<string, Float32Array>; losses: number[] } | null> {
  const params = Params.init(engine, cnnSpecs(TINY), 3);
  const trainer = new Trainer(engine, cnnClassifier(params, TINY, 'tiny'), CFG);
  const losses: number[] = [];
  try {
    if (opts.resume) assert.ok(await trainer.resume(opts.checkpoint!), 'checkpoint found');
    await trainer.run(data, {
      checkpoint: opts.checkpoint,
      checkpointEvery: 1,
      onProgress: (p) => losses.push(p.loss),
      periodic: { every: 1, run: async (s) => { if (s.step === opts.stopAtUpdate) throw new Error('killed'); } },
    });
  } catch (err) {
    trainer.optimizer.dispose();
    params.dispose();
    if ((err as Error).message !== 'killed') throw err;
    return null;
  }
  const state = new Map<string, Float32Array>();
  for (const [k, v] of await params.toTensorMap()) state.set(k, toFloat32(v));
  for (const [k, v] of await trainer.optimizer.state()) state.set(k, toFloat32(v));
  trainer.optimizer.dispose();
  params.dispose();
  return { state, losses };
}

test('TRADES training: a run killed mid-epoch and resumed equals the uninterrupted run bit for bit', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const whole = (await runState(engine, {}))!;
  const checkpoint = join(dir, 'tiny.safetensors.ckpt');
  assert.is(await runState(engine, { checkpoint, stopAtUpdate: 6 }), null, 'the first sitting was killed');
  const resumed = (await runState(engine, { checkpoint, resume: true }))!;
  assert.is(resumed.losses.length, 8 - 6, 'the second sitting ran only the remaining updates');
  for (const [name, want] of whole.state) assert.equal(Array.from(resumed.state.get(name)!), Array.from(want), name);
  // The comparison can fail: the state one update short of the end is not the final state.
  assert.is(await runState(engine, { checkpoint: join(dir, 'short.ckpt'), stopAtUpdate: 7 }), null);
  const early = readSafetensors(new Uint8Array(readFileSync(join(dir, 'short.ckpt'))), 'short.ckpt');
  const first = [...whole.state.keys()][0];
  assert.not.equal(Array.from(toFloat32(early.get(first)!)), Array.from(whole.state.get(first)!), 'the update-7 checkpoint differs from the end');
  assert.ok(whole.losses.at(-1)! < whole.losses[0], `loss fell over training (${whole.losses[0].toFixed(3)} → ${whole.losses.at(-1)!.toFixed(3)})`);
});

const cli = (...args: string[]) => spawnSync(process.execPath, ['tools/purify.mjs', 'train', 'guidance', ...args], { encoding: 'utf8', timeout: 120_000 });
const tinyRun = ['--epochs', '1', '--limit', '16', '--batch', '8', '--pgd-steps', '1', '--holdout', '0', '--eval-n', '2', '--checkpoint-every', '0'];
const weights = (path: string) => readSafetensors(new Uint8Array(readFileSync(path)), path);

test('purify train guidance --init: starts from those weights, keeps their architecture, refuses shapes that do not fit', async () => {
  if (!(await getEngine())) return;
  const base = join(dir, 'base.safetensors');
  const made = cli(...tinyRun, '--channels', '2,4', '--hidden', '8', '--out', base);
  assert.is(made.status, 0, made.stderr);
  // At learning rate 0 a run changes nothing, so the output is the --init file's weights exactly;
  // a run that ignored --init would hold a fresh draw (seed 2 here, so not base's either).
  const tuned = join(dir, 'tuned.safetensors');
  const run = cli(...tinyRun, '--init', base, '--lr', '0', '--seed', '2', '--out', tuned);
  assert.is(run.status, 0, run.stderr);
  const [want, got] = [weights(base), weights(tuned)];
  for (const [name, t] of want) assert.equal(Array.from(toFloat32(got.get(name)!)), Array.from(toFloat32(t)), name);
  const meta = readSafetensorsMetadata(new Uint8Array(readFileSync(tuned)), tuned);
  assert.equal(JSON.parse(meta.architecture).channels, [2, 4], 'the architecture came from the --init file');
  assert.match(meta.init, /base\.safetensors \(sha256 [0-9a-f]{64}\)/);
  assert.match(readFileSync(tuned.replace(/\.safetensors$/, '.md'), 'utf8'), /Started from the weights in .*base\.safetensors/);
  const fresh = join(dir, 'fresh.safetensors');
  assert.is(cli(...tinyRun, '--channels', '2,4', '--hidden', '8', '--lr', '0', '--seed', '2', '--out', fresh).status, 0);
  const firstName = [...want.keys()][0];
  assert.not.equal(Array.from(toFloat32(weights(fresh).get(firstName)!)), Array.from(toFloat32(want.get(firstName)!)), 'without --init the weights differ');
  const wrong = cli(...tinyRun, '--init', base, '--hidden', '16', '--out', join(dir, 'wrong.safetensors'));
  assert.is(wrong.status, 1);
  assert.match(wrong.stderr, /hidden\.weight: expected \[16,\d+\], got \[8,\d+\]/);
  assert.not.match(wrong.stderr, /\n\s+at /, 'one message, no stack trace');
});

test('purify card --curve A,B: the runs of a fine-tuned network as one curve, updates and times continuing', async () => {
  if (!(await getEngine())) return;
  const point = (update: number, seconds: number, pgd: number) => JSON.stringify({ update, epoch: 0, seconds, cleanAccuracy: 0.9, pgd20Accuracy: pgd, heldOut: 16, robustN: 8 });
  writeFileSync(join(dir, 'a.jsonl'), [point(100, 60, 0.5), point(200, 120, 0.6)].join('\n') + '\n');
  writeFileSync(join(dir, 'b.jsonl'), [point(100, 30, 0.7)].join('\n') + '\n');
  const md = join(dir, 'card.md');
  const r = spawnSync(process.execPath, ['tools/purify.mjs', 'card', join(dir, 'tuned.safetensors'), '--n', '4', '--restarts', '1', '--only', '3', '--curve', `${join(dir, 'a.jsonl')},${join(dir, 'b.jsonl')}`, '--json', join(dir, 'card.json'), '--md', md], { encoding: 'utf8', timeout: 120_000 });
  assert.is(r.status, 0, r.stderr);
  const rows = readFileSync(md, 'utf8').split('\n').filter((l) => /^\| [12] \| \d+ \|/.test(l));
  assert.equal(rows, ['| 1 | 100 | 1:00 | 90.00 % | 50.00 % |', '| 1 | 200 | 2:00 | 90.00 % | 60.00 % |', '| 2 | 300 | 2:30 | 90.00 % | 70.00 % |']);
  assert.match(readFileSync(md, 'utf8'), /each later run started from the one before's weights \(the last from .*base\.safetensors/);
});

test.run();
