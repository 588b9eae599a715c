// `purify train ddpm`: trains the Franfee UNet's ε-model on the DDPM objective, from the shipped
// MNIST weights (fine-tuning, e.g. to Fashion-MNIST) or from a random initialisation, and writes a
// safetensors file that `--denoiser <path>` loads, with a model card beside it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { basename, dirname } from 'node:path';
import { loadDataset, type DatasetName } from '../../engine/data/datasets.ts';
import { writeSafetensors } from '../../engine/io/safetensors.ts';
import { loadDenoiser } from '../../engine/models/catalog.ts';
import { franfeeDenoiser } from '../../engine/models/franfee-denoiser.ts';
import { FRANFEE_MNIST, franfeeInit } from '../../engine/models/franfee-unet.ts';
import type { Denoiser } from '../../engine/models/types.ts';
import type { Engine } from '../../engine/runtime.ts';
import { heldOutLoss } from '../../engine/train/ddpm-objective.ts';
import { DdpmTrainer } from '../../engine/train/ddpm-trainer.ts';
import type { EpochConfig } from '../../engine/train/epoch-trainer.ts';
import { ProgressBar, formatTime } from '../progress.ts';
import { engineFrom } from './options.ts';

const INITS = ['franfee-mnist', 'none'] as const;
type Init = (typeof INITS)[number];
const DATASETS: DatasetName[] = ['mnist', 'fashion-mnist'];

export interface DdpmArgs {
  adapter?: string;
  backend?: string;
  data: string;
  init?: string;
  epochs?: string;
  batch?: string;
  lr?: string;
  optimizer?: string;
  'weight-decay'?: string;
  limit?: string;
  seed: string;
  out?: string;
  resume: boolean;
  'eval-n': string;
}

interface HeldOut {
  epoch: number;
  loss: number;
}

function positiveInteger(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} must be a positive integer, not ${value}`);
  return n;
}

function initialDenoiser(engine: Engine, init: Init, seed: number): Promise<Denoiser> | Denoiser {
  return init === 'none' ? franfeeDenoiser(franfeeInit(engine, FRANFEE_MNIST, seed)) : loadDenoiser(engine, init);
}

export async function trainDdpm(args: DdpmArgs): Promise<void> {
  const init = (args.init ?? 'franfee-mnist') as Init;
  if (!INITS.includes(init)) throw new Error(`--init must be ${INITS.join(' or ')}, not "${args.init}"`);
  const dataName = args.data as DatasetName;
  if (!DATASETS.includes(dataName)) throw new Error(`--data must be ${DATASETS.join(' or ')} for ddpm training (28×28 gray images, like the architecture), not "${args.data}"`);
  const optimizerKind = args.optimizer ?? 'adam';
  if (optimizerKind !== 'adam' && optimizerKind !== 'adamw' && optimizerKind !== 'sgd') throw new Error(`--optimizer must be adam, adamw or sgd, not ${optimizerKind}`);
  const lr = Number(args.lr ?? (init === 'none' ? 1e-3 : 1e-4));
  if (!(lr > 0)) throw new Error(`--lr must be a positive number, not ${args.lr}`);
  const cfg: EpochConfig = {
    epochs: positiveInteger('epochs', args.epochs ?? '1'),
    batch: positiveInteger('batch', args.batch ?? '64'),
    optimizer: { kind: optimizerKind, lr, weightDecay: Number(args['weight-decay'] ?? 0) },
    schedule: 'cosine',
    seed: Number(args.seed),
    limit: args.limit ? positiveInteger('limit', args.limit) : undefined,
  };
  const evalN = positiveInteger('eval-n', args['eval-n']);
  const out = args.out ?? `ddpm-out/franfee-${init === 'none' ? 'from-scratch' : 'finetuned'}.safetensors`;
  const train = loadDataset(dataName, 'train', { limit: cfg.limit });
  const test = loadDataset(dataName, 'test', { limit: evalN });

  const engine = await engineFrom(args);
  const denoiser = await initialDenoiser(engine, init, cfg.seed);
  const trainer = new DdpmTrainer(engine, denoiser, cfg);
  mkdirSync(dirname(out), { recursive: true });
  const checkpoint = `${out}.ckpt`;
  if (args.resume && (await trainer.resume(checkpoint))) console.error(`resumed from ${checkpoint} at epoch ${trainer.state.epoch}`);
  console.error(`training the ε-model of ${denoiser.name} (init ${init}, ${denoiser.params.specs.count()} parameters) on ${train.n} ${dataName} images: ${JSON.stringify(cfg)}`);

  const heldOut: HeldOut[] = [];
  const measure = async (epoch: number) => {
    const loss = await heldOutLoss(denoiser, test, test.n, cfg.batch);
    heldOut.push({ epoch, loss });
    console.error(`epoch ${epoch}${epoch === trainer.resumedAtEpoch ? ' (start)' : ''}: held-out DDPM loss ${loss.toFixed(5)} (${test.n} ${dataName} test images, fixed t and ε)`);
  };
  await measure(trainer.state.epoch);
  const started = performance.now();
  let bar: ProgressBar | null = null;
  let lossSum = 0;
  await trainer.run(train, {
    checkpoint,
    onProgress: (p) => {
      if (p.step === 1 || !bar) [bar, lossSum] = [new ProgressBar(`epoch ${p.epoch}/${p.epochs}`, p.stepsPerEpoch), 0];
      lossSum += p.loss;
      bar.update(p.step, `loss ${p.loss.toFixed(4)} (epoch mean ${(lossSum / p.step).toFixed(4)})  ${p.imagesPerSecond.toFixed(1)} img/s`);
      bar = p.step === p.stepsPerEpoch ? null : bar;
    },
    afterEpoch: measure,
  });
  const seconds = (performance.now() - started) / 1000;

  const card: CardFacts = { init, dataName, trainN: train.n, cfg, seconds, heldOut, testN: test.n, resumedAtEpoch: trainer.resumedAtEpoch, adapter: engine.gpu.adapterName, out };
  const meta = { model: 'franfee-ddpm', architecture: JSON.stringify(FRANFEE_MNIST), init, data: dataName, training: JSON.stringify(cfg), trained_seconds: seconds.toFixed(0), held_out_losses: JSON.stringify(heldOut), adapter: card.adapter };
  writeFileSync(out, writeSafetensors(await denoiser.params.toTensorMap(), meta));
  writeFileSync(out.replace(/\.safetensors$/, '') + '.md', modelCard(card));
  console.log(`wrote ${out} and its model card (${formatTime(seconds)} of training); use it with --denoiser ${out}`);
  engine.destroy();
}

interface CardFacts {
  init: Init;
  dataName: DatasetName;
  trainN: number;
  cfg: EpochConfig;
  seconds: number;
  heldOut: HeldOut[];
  testN: number;
  resumedAtEpoch: number;
  adapter: string;
  out: string;
}

function modelCard(f: CardFacts): string {
  const origin = f.init === 'none'
    ? 'trained from a random initialisation (PyTorch default initialisers, seeded; sinusoidal time table)'
    : 'fine-tuned from the shipped Franfee MNIST DDPM (MIT, see weights/)';
  const rows = f.heldOut.map((h) => `| ${h.epoch === f.resumedAtEpoch ? `${h.epoch} (start)` : h.epoch} | ${h.loss.toFixed(5)} |`).join('\n');
  const resumed = f.resumedAtEpoch > 0 ? ` (resumed at epoch ${f.resumedAtEpoch}; earlier epochs' time not counted)` : '';
  return `# ${basename(f.out)}

The Franfee DDPM ε-model (engine/models/franfee-unet.ts), ${origin}, by purify-gpu's own engine
(\`purify train ddpm --init ${f.init} --data ${f.dataName}\`) on ${f.trainN} ${f.dataName} training images.
Use it with \`--denoiser ${f.out}\`.

- Architecture: \`${JSON.stringify(FRANFEE_MNIST)}\`; images fed in [0, 1], like the shipped checkpoint.
- Objective (Ho et al. 2020): mean ‖ε − ε_θ(√ᾱ_t·x₀ + √(1−ᾱ_t)·ε, t)‖², t uniform in [0, ${FRANFEE_MNIST.steps}), linear β schedule.
- Training: \`${JSON.stringify(f.cfg)}\`
- Time: ${formatTime(f.seconds)}${resumed} on ${f.adapter} (${cpus().length} CPU cores)

Held-out loss: the same objective on the first ${f.testN} ${f.dataName} test images, with t and ε fixed per image.

| epoch | held-out loss |
|---|---|
${rows}
`;
}
