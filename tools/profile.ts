// Kernel profile of one model step: GPU time per op from per-dispatch timestamp queries.
// Usage: node --import tsx tools/profile.ts [batch] [--grad] [--guide [--weights F]] [--dispatches]
//   --grad        forward + input gradient (what the attacks and AGDM's guidance pay per step)
//   --guide       the guidance classifier c_φ (forward + input gradient: every attack and TRADES step)
//                 instead of the Franfee denoiser
//   --weights F   with --guide: a guidance network's weight file instead of the shipped one
//   --dispatches  also list the slowest single dispatches in the order they ran
//   --model M     franfee-mnist (default) or ddpm-cifar10 (the bench's CIFAR UNet, random weights)
//   --adapter A   an adapter whose name contains A (lavapipe, SwiftShader)
import { parseArgs } from 'node:util';
import { Engine, precompileAll, valueAndGrad } from '../engine/index.ts';
import { loadClassifier, loadDenoiser } from '../engine/models/catalog.ts';
import { sum } from '../engine/ops/index.ts';
import { CIFAR_UNET_LABEL, cifarBenchUnet, denoiserStep, randomTensor } from './bench/cases.ts';

const { values, positionals } = parseArgs({
  args: process.argv.slice(2),
  allowPositionals: true,
  options: { grad: { type: 'boolean', default: false }, guide: { type: 'boolean', default: false }, weights: { type: 'string' }, dispatches: { type: 'boolean', default: false }, model: { type: 'string', default: 'franfee-mnist' }, adapter: { type: 'string' } },
});
const batch = Number(positionals[0] ?? 10);
const engine = await Engine.create({ adapter: values.adapter });
await precompileAll(engine);
let name: string;
let step: () => void;
if (values.guide) {
  const model = await loadClassifier(engine, values.weights ?? 'mnist-guidance');
  const x = engine.keep(randomTensor(engine, [batch, ...model.imageShape]));
  name = `${model.name} forward + input gradient`;
  step = () => void valueAndGrad(engine, () => sum(model.logits(x)), [x]);
} else {
  if (values.model !== 'franfee-mnist' && values.model !== CIFAR_UNET_LABEL) throw new Error(`--model: franfee-mnist or ${CIFAR_UNET_LABEL}, got ${values.model}`);
  const model = values.model === CIFAR_UNET_LABEL ? await cifarBenchUnet(engine) : await loadDenoiser(engine);
  const denoise = denoiserStep(engine, model, batch);
  name = `${model.name} step${values.grad ? ' + input gradient' : ''}`;
  step = values.grad ? denoise.withInputGradient : () => void denoise.forward();
}
engine.scope(step);
await engine.sync();
const dispatches: { label: string; ms: number }[] = [];
const profile = await engine.profileOps(() => engine.scope(step), dispatches);
if (!profile) throw new Error('this adapter has no timestamp queries');
const rows = [...profile].sort((a, b) => b[1].ms - a[1].ms);
const total = rows.reduce((a, [, v]) => a + v.ms, 0);
console.log(`${engine.gpu.adapterName}: ${name}, batch ${batch}: ${total.toFixed(1)} ms GPU in ${rows.reduce((a, [, v]) => a + v.count, 0)} dispatches`);
for (const [op, v] of rows) console.log(`  ${op.padEnd(28)} ${String(v.count).padStart(4)}×  ${v.ms.toFixed(2).padStart(8)} ms  ${((100 * v.ms) / total).toFixed(1).padStart(5)} %`);
if (values.dispatches) {
  const slowest = new Set([...dispatches].sort((a, b) => b.ms - a.ms).slice(0, 15));
  console.log('slowest dispatches, in order:');
  dispatches.forEach((d, i) => slowest.has(d) && console.log(`  #${String(i).padStart(3)} ${d.label.padEnd(28)} ${d.ms.toFixed(2).padStart(8)} ms`));
}
process.exit(0);
