import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { loadDataset, type DatasetName } from '../../engine/data/datasets.ts';
import { readWeights } from '../../engine/io/load.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { readSafetensorsMetadata, writeSafetensors } from '../../engine/io/safetensors.ts';
import { accuracy, predictAll } from '../../engine/eval/predict.ts';
import { pgdAccuracy } from '../../engine/eval/robustness.ts';
import { MNIST_CLASSIFIER, MNIST_GUIDANCE, cnnClassifier, cnnSpecs, type CnnConfig } from '../../engine/models/small-cnn.ts';
import { RobustCurve } from './robust-curve.ts';
import { Params } from '../../engine/nn/params.ts';
import { Trainer, type TrainConfig } from '../../engine/train/trainer.ts';
import { ProgressBar, formatTime } from '../progress.ts';
import { sha256Hex } from './fingerprint.ts';
import { deviceOptions, engineFrom } from './options.ts';
import { trainDdpm } from './train-ddpm.ts';

export async function run(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...deviceOptions,
      data: { type: 'string', default: 'mnist' },
      epochs: { type: 'string' },
      batch: { type: 'string' },
      init: { type: 'string' },
      lr: { type: 'string' },
      optimizer: { type: 'string' },
      'weight-decay': { type: 'string' },
      shift: { type: 'string' },
      limit: { type: 'string' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string' },
      resume: { type: 'boolean', default: false },
      'trades-beta': { type: 'string', default: '6' },
      eps: { type: 'string', default: '0.3' },
      'pgd-steps': { type: 'string', default: '5' },
      'step-size': { type: 'string' },
      divergence: { type: 'string', default: 'kl' },
      'eval-n': { type: 'string', default: '500' },
      channels: { type: 'string' },
      hidden: { type: 'string' },
      holdout: { type: 'string' },
      'checkpoint-every': { type: 'string', default: '200' },
      'curve-every': { type: 'string' },
      'curve-n': { type: 'string', default: '500' },
    },
  });
  const kind = positionals[0];
  if (kind === 'ddpm') return trainDdpm(values);
  if (kind !== 'classifier' && kind !== 'guidance') throw new Error('usage: purify train classifier|guidance|ddpm [options]');
  const guidance = kind === 'guidance';
  const initBytes = values.init ? new Uint8Array(readFileSync(values.init)) : null;
  // A fine-tuned network keeps the architecture its --init file records, unless flags say otherwise.
  const initArch = initBytes ? readSafetensorsMetadata(initBytes, values.init).architecture : undefined;
  const baseCfg: CnnConfig = initArch ? JSON.parse(initArch) : guidance ? MNIST_GUIDANCE : MNIST_CLASSIFIER;
  const modelCfg: CnnConfig = {
    ...baseCfg,
    channels: values.channels ? values.channels.split(',').map(Number) : baseCfg.channels,
    hidden: Number(values.hidden ?? baseCfg.hidden),
  };
  if (!modelCfg.channels.every((c) => Number.isInteger(c) && c > 0) || !(Number.isInteger(modelCfg.hidden) && modelCfg.hidden > 0)) {
    throw new Error(`--channels must be positive integers like 16,32 and --hidden a positive integer`);
  }
  const name = guidance ? 'mnist-guidance' : 'mnist-cnn';
  const out = values.out ?? `weights/${name}.safetensors`;
  const eps = Number(values.eps);
  const pgdSteps = Number(values['pgd-steps']);
  // The classifier's defaults reproduce the shipped mnist-cnn (see its model card).
  const optimizerKind = values.optimizer ?? (guidance ? 'adam' : 'adamw');
  if (optimizerKind !== 'adam' && optimizerKind !== 'adamw' && optimizerKind !== 'sgd') throw new Error(`--optimizer must be adam, adamw or sgd, not ${optimizerKind}`);
  const cfg: TrainConfig = {
    epochs: Number(values.epochs ?? 4),
    batch: Number(values.batch ?? 128),
    optimizer: { kind: optimizerKind, lr: Number(values.lr ?? (guidance ? 1e-3 : 2e-3)), weightDecay: Number(values['weight-decay'] ?? (guidance ? 0 : 0.05)) },
    shift: Number(values.shift ?? (guidance ? 0 : 2)),
    schedule: 'cosine',
    seed: Number(values.seed),
    limit: values.limit ? Number(values.limit) : undefined,
    holdout: Number(values.holdout ?? (guidance ? 5000 : 0)),
    trades: guidance
      ? { beta: Number(values['trades-beta']), eps, steps: pgdSteps, stepSize: Number(values['step-size'] ?? (2.5 * eps) / pgdSteps), divergence: values.divergence as 'kl' | 'latent-mse' }
      : undefined,
  };
  const engine = await engineFrom(values);
  const dataName = values.data as DatasetName;
  const train = loadDataset(dataName, 'train');
  const test = loadDataset(dataName, 'test');
  if (!(Number.isInteger(cfg.holdout) && cfg.holdout! >= 0 && cfg.holdout! < train.n)) throw new Error(`--holdout must be an integer in [0, ${train.n})`);
  // The held-out images are the last of the training split: never trained on, never a test image.
  cfg.limit = Math.min(cfg.limit ?? train.n, train.n - cfg.holdout!);
  // --init fine-tunes: the run starts from those weights (names and shapes must match exactly) instead of a fresh draw.
  const specs = cnnSpecs(modelCfg);
  const params = initBytes ? Params.load(engine, specs, await readWeights(initBytes, values.init), values.init) : Params.init(engine, specs, cfg.seed);
  const init = initBytes ? `${values.init} (sha256 ${sha256Hex(initBytes)})` : undefined;
  const model = cnnClassifier(params, modelCfg, name);
  const trainer = new Trainer(engine, model, cfg);
  const checkpoint = `${out}.ckpt`;
  if (values.resume && (await trainer.resume(checkpoint))) console.error(`resumed from ${checkpoint} at epoch ${trainer.state.epoch}`);
  console.error(`training ${name} (${model.params.specs.count()} parameters) on ${cfg.limit ?? train.n} ${dataName} images: ${JSON.stringify(cfg)}`);
  let bar: ProgressBar | null = null;
  const metrics: Record<string, number> = {};
  const epochAccuracies: number[] = [];
  const curveEvery = Number(values['curve-every'] ?? (guidance ? 500 : 0));
  const curve = cfg.holdout && curveEvery ? new RobustCurve(engine, model, train, cfg.holdout, Number(values['curve-n']), eps, `${out}.curve.jsonl`) : null;
  if (curve && !values.resume) curve.reset();
  await trainer.run(train, {
    checkpoint,
    checkpointEvery: Number(values['checkpoint-every']),
    periodic: curve ? { every: curveEvery, run: async (state) => void (await curve.measure(state)) } : undefined,
    onProgress: (p) => {
      if (p.step === 1 || !bar) bar = new ProgressBar(`epoch ${p.epoch}/${p.epochs}`, p.stepsPerEpoch);
      bar.update(p.step, `loss ${p.loss.toFixed(4)}  ${p.imagesPerSecond.toFixed(0)} img/s`);
      bar = p.step === p.stepsPerEpoch ? null : bar;
    },
    afterEpoch: async (epoch) => {
      const clean = accuracy(await predictAll(engine, model, test.images, test.n), test.labels);
      metrics.cleanAccuracy = clean;
      epochAccuracies.push(clean);
      console.error(`epoch ${epoch}: clean test accuracy ${(100 * clean).toFixed(2)} % (${test.n} images)`);
    },
  });
  const seconds = trainer.state.seconds;
  const evalN = Math.min(Number(values['eval-n']), test.n);
  for (const steps of [10, 40]) {
    const robust = await pgdAccuracy(engine, model, test.images, test.labels, evalN, { norm: 'linf', eps: 0.3, steps, stepSize: 0.01, randomStart: true, seed: 7 });
    metrics[`pgd${steps}Accuracy`] = robust;
    console.error(`PGD-${steps} (L∞ ε=0.3, α=0.01, random start) accuracy on ${evalN} test images: ${(100 * robust).toFixed(1)} %`);
  }
  const weights = await model.params.toTensorMap();
  const meta = { ...(init ? { init } : {}), model: name, architecture: JSON.stringify(modelCfg), training: JSON.stringify(cfg), trained_seconds: seconds.toFixed(0), metrics: JSON.stringify(metrics), epoch_accuracies: JSON.stringify(epochAccuracies), adapter: engine.gpu.adapterName };
  writeFileSync(out, writeSafetensors(weights, meta));
  const resumed = trainer.resumedAtEpoch > 0 || values.resume ? ' (over several sittings; training steps only)' : ' (training steps only)';
  writeFileSync(out.replace(/\.safetensors$/, '.md'), modelCard(name, modelCfg, cfg, { init, seconds, resumed, metrics, epochAccuracies, adapter: engine.gpu.adapterName, testN: test.n, evalN }));
  console.log(`wrote ${out} and its model card (${formatTime(seconds)} of training)`);
  engine.destroy();
}

interface CardFacts { init?: string; seconds: number; resumed: string; metrics: Record<string, number>; epochAccuracies: number[]; adapter: string; testN: number; evalN: number }

function modelCard(name: string, arch: object, cfg: TrainConfig, f: CardFacts): string {
  const pct = (v: number | undefined) => (v === undefined ? '-' : `${(100 * v).toFixed(2)} %`);
  const training = cfg.trades
    ? `TRADES (Zhang et al. 2019): loss = CE(f(x), y) + β·${cfg.trades.divergence === 'kl' ? 'KL(f(x) ‖ f(x′))' : '‖h(x) − h(x′)‖²'}, x′ from ${cfg.trades.steps}-step PGD (L∞ ε = ${cfg.trades.eps}, α = ${cfg.trades.stepSize.toFixed(3)})`
    : `Plain cross-entropy training${cfg.shift ? `, every image shifted by a random whole-pixel offset in [−${cfg.shift}, ${cfg.shift}]²` : ''}.`;
  return `# ${name}

Trained by purify-gpu's own engine (\`purify train ${cfg.trades ? 'guidance' : 'classifier'}\`) on the MNIST training set
(60,000 images${cfg.limit ? `, first ${cfg.limit} used` : ''}). License: MIT, like the project.

- Architecture (engine/models/small-cnn.ts): \`${JSON.stringify(arch)}\`
- Training: \`${JSON.stringify(cfg)}\`${f.init ? `\n- Started from the weights in ${f.init}, not a fresh draw (\`--init\`).` : ''}
- ${training}
- Clean test accuracy after each epoch: ${f.epochAccuracies.map((a) => (100 * a).toFixed(2)).join(', ')} %.
- Time: ${formatTime(f.seconds)}${f.resumed} on ${f.adapter} (${cpus().length} CPU cores)

| metric | value |
|---|---|
| clean accuracy (${f.testN} MNIST test images) | ${pct(f.metrics.cleanAccuracy)} |
| PGD-10 accuracy (L∞ ε = 0.3, α = 0.01, random start; first ${f.evalN} test images) | ${pct(f.metrics.pgd10Accuracy)} |
| PGD-40 accuracy (same, 40 steps) | ${pct(f.metrics.pgd40Accuracy)} |
`;
}
