import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { valueAndGrad } from '../../engine/index.ts';
import { matchStateDict, parseWeights, readWeights } from '../../engine/io/load.ts';
import type { TensorMap } from '../../engine/io/raw-tensor.ts';
import { writeSafetensors } from '../../engine/io/safetensors.ts';
import {
  DDPM_CIFAR10, attentionBlock, ddpmStateDict, ddpmTimeEmbedding, ddpmUnet, ddpmUnetForward, ddpmUnetSpecs, downsample, resnetBlock, upsample,
  type DdpmUnetConfig,
} from '../../engine/models/ddpm-unet.ts';
import { Params } from '../../engine/nn/params.ts';
import { mul, sum } from '../../engine/ops/index.ts';
import * as ref from '../../engine/reference/ddpm-unet.ts';
import { unary } from '../../engine/reference/elementwise.ts';
import { map, type Nd } from '../../engine/reference/nd.ts';
import { ddpmCifar10Fixture, ddpmCifar10Shapes, writeDdpmFixture } from '../../tools/make-ddpm-fixture.ts';
import { assertClose, finiteDiff, freshSeed, rng } from '../helpers/check.ts';
import { getEngine } from '../helpers/gpu.ts';
import { randomNd, upload } from '../helpers/harness.ts';

const seed = freshSeed();
const random = rng(seed);
console.log(`  seed ${seed}`);

const CIFAR_PARAMS = 35_746_307;
const shapeCount = (shapes: Iterable<number[]>) => [...shapes].reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);

const fixtureDir = mkdtempSync(join(tmpdir(), 'ddpm-fixture-'));
const fixturePath = join(fixtureDir, 'ddpm-cifar10-32.safetensors');
let fixture: Promise<TensorMap> | null = null;
/** The fixture file, written once and read back through the ordinary weight reader. */
function cifarWeights(): Promise<TensorMap> {
  fixture ??= writeDdpmFixture(fixturePath).then(() => readWeights(fixturePath));
  return fixture;
}
test.after(() => rmSync(fixtureDir, { recursive: true, force: true }));

/** The same weights with one tensor missing and one reshaped, through a safetensors file. */
function brokenCopy(weights: TensorMap, missing: string, reshaped: string): TensorMap {
  const broken: TensorMap = new Map(weights);
  broken.delete(missing);
  const t = broken.get(reshaped)!;
  broken.set(reshaped, { ...t, shape: [t.shape[1], t.shape[0], ...t.shape.slice(2)] });
  return parseWeights(writeSafetensors(broken), 'broken.safetensors');
}

test('CIFAR-10 config has the 35,746,307 parameters and the exact tensor names and shapes of google/ddpm-cifar10-32', async () => {
  const specs = ddpmUnetSpecs(DDPM_CIFAR10);
  console.log(`    ddpmUnetSpecs(DDPM_CIFAR10): ${specs.list.length} tensors, ${specs.count().toLocaleString('en')} parameters`);
  assert.is(specs.count(), CIFAR_PARAMS);
  assert.is(shapeCount(ddpmCifar10Shapes().values()), CIFAR_PARAMS, 'the hand-written fixture table');
  const weights = await cifarWeights();
  assert.is(weights.size, specs.list.length);
  matchStateDict(specs.shapes(), weights, 'fixture');
  matchStateDict(specs.shapes(), ddpmStateDict(ddpmCifar10Fixture(2, true)), 'legacy-named fixture');

  const missing = 'mid_block.attentions.0.to_k.weight';
  const reshaped = 'up_blocks.3.resnets.0.conv1.weight';
  try {
    matchStateDict(specs.shapes(), brokenCopy(weights, missing, reshaped), 'broken');
    assert.unreachable('a broken file loaded');
  } catch (err) {
    const message = (err as Error).message;
    console.log(`    ${message.replaceAll('\n', '\n    ')}`);
    assert.ok(message.includes(`missing (1):\n    ${missing} [256,256]`), 'names the missing tensor');
    assert.ok(message.includes(`${reshaped}: expected [128,384,3,3], got [384,128,3,3]`), 'names the mis-shaped tensor');
    assert.not.ok(message.includes('unexpected'));
  }
});

test('legacy attention names are renamed, and a collision is an error', () => {
  const legacy: TensorMap = new Map([['mid_block.attentions.0.proj_attn.weight', { dtype: 'f32', shape: [1], data: new Float32Array(1) }]]);
  assert.equal([...ddpmStateDict(legacy).keys()], ['mid_block.attentions.0.to_out.0.weight']);
  legacy.set('mid_block.attentions.0.to_out.0.weight', legacy.get('mid_block.attentions.0.proj_attn.weight')!);
  assert.throws(() => ddpmStateDict(legacy), /to_out\.0\.weight/);
});

const SMALL: DdpmUnetConfig = {
  imageChannels: 3,
  size: 16,
  channels: 32,
  multipliers: [1, 2],
  resBlocks: 1,
  attentionResolutions: [8],
  groups: 8,
  eps: 1e-6,
  downsamplePadding: 0,
  steps: 1000,
};

/** Random weights for cfg, f32-exact, as GPU Params and as the reference's float64 map; norms get non-trivial γ, β. */
async function randomWeights(cfg: DdpmUnetConfig): Promise<{ p: Params; w: Map<string, Nd> }> {
  const engine = (await getEngine())!;
  const w = new Map<string, Nd>();
  const tensors: TensorMap = new Map();
  for (const spec of ddpmUnetSpecs(cfg).list) {
    const init = spec.init;
    const values = typeof init === 'object' && 'uniform' in init
      ? randomNd(random, spec.shape, init.uniform)
      : map(randomNd(random, spec.shape, 0.3), (v) => Math.fround(v + (init === 'ones' ? 1 : 0)));
    w.set(spec.name, values);
    tensors.set(spec.name, { dtype: 'f32', shape: spec.shape, data: Float32Array.from(values.data) });
  }
  return { p: Params.load(engine, ddpmUnetSpecs(cfg), tensors, 'random'), w };
}

const silu = (x: Nd) => map(x, unary.silu.f);
const TOL = 1e-3;

test('small UNet, block by block and whole, matches the float64 reference', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const { p, w } = await randomWeights(SMALL);
  const n = 2;
  const t = [Math.floor(random() * 1000), Math.floor(random() * 1000)];
  const temb = randomNd(random, [n, 4 * SMALL.channels]);
  const timeAct = upload(engine, silu(temb));
  const check = async (name: string, got: ReturnType<typeof upload>, expected: Nd) => {
    assert.equal([...got.shape], expected.shape, `${name} shape`);
    assertClose(name, await got.read(), expected.data, TOL);
  };

  await check(`time embedding t=${t}`, ddpmTimeEmbedding(p, SMALL, t), silu(ref.timeEmbeddingRef(w, SMALL, t)));
  for (const [name, shape] of [['down_blocks.1.resnets.0', [n, 32, 8, 8]], ['mid_block.resnets.0', [n, 64, 8, 8]], ['up_blocks.1.resnets.0', [n, 96, 16, 16]]] as const) {
    const x = randomNd(random, [...shape]);
    await check(`resnet ${name} [${shape}]`, resnetBlock(p, SMALL, name, upload(engine, x), timeAct), ref.resnetBlockRef(w, SMALL, name, x, temb));
  }
  for (const name of ['down_blocks.1.attentions.0', 'mid_block.attentions.0']) {
    const x = randomNd(random, [n, 64, 8, 8]);
    await check(`attention ${name}`, attentionBlock(p, SMALL, name, upload(engine, x)), ref.attentionBlockRef(w, SMALL, name, x));
  }
  for (const padding of [0, 1] as const) {
    const cfg = { ...SMALL, downsamplePadding: padding };
    for (const size of [16, 15]) {
      const x = randomNd(random, [n, 32, size, size]);
      const name = 'down_blocks.0.downsamplers.0.conv';
      await check(`downsample padding ${padding} ${size}×${size}`, downsample(p, cfg, name, upload(engine, x)), ref.downsampleRef(w, cfg, name, x));
    }
  }
  const up = randomNd(random, [n, 64, 8, 8]);
  await check('upsample', upsample(p, 'up_blocks.0.upsamplers.0.conv', upload(engine, up)), ref.upsampleRef(w, 'up_blocks.0.upsamplers.0.conv', up));

  const x = randomNd(random, [n, 3, 16, 16]);
  const denoiser = ddpmUnet(p, SMALL, 'small');
  await check(`whole network, t=${t}`, denoiser.predictEps(upload(engine, x), t), ref.ddpmUnetRef(w, SMALL, x, t));
});

test('small UNet: gradient w.r.t. the input matches finite differences of the float64 reference', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const { p, w } = await randomWeights(SMALL);
  const t = [Math.floor(random() * 1000)];
  const x = randomNd(random, [1, 3, 16, 16]);
  const weighting = randomNd(random, [1, 3, 16, 16]);
  const xt = upload(engine, x);
  const { grads } = valueAndGrad(engine, () => sum(mul(ddpmUnetForward(p, SMALL, xt, t), upload(engine, weighting))), [xt]);
  const gpu = await grads[0].read();
  const coords = Array.from({ length: 4 }, () => Math.floor(random() * x.data.length));
  const objective = (data: Float64Array) => ref.ddpmUnetRef(w, SMALL, { shape: x.shape, data }, t).data.reduce((s, v, i) => s + v * weighting.data[i], 0);
  const fd = finiteDiff(objective, x.data, coords, 1e-4);
  assertClose(`d Σ(ε̂·w)/dx at ${coords}`, coords.map((i) => gpu[i]), fd, 1e-3);
});

test('CIFAR-10 UNet loads the fixture file and runs a forward pass', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const specs = ddpmUnetSpecs(DDPM_CIFAR10);
  const weights = await cifarWeights();
  const p = Params.load(engine, specs, weights, fixturePath);
  const probe = 'up_blocks.2.attentions.2.to_v.weight';
  assert.equal(await p.get(probe).read(), weights.get(probe)!.data, 'uploaded values equal the file');
  assert.throws(() => Params.load(engine, specs, brokenCopy(weights, 'conv_in.bias', 'time_embedding.linear_1.weight'), 'broken'), /conv_in\.bias[\s\S]*time_embedding\.linear_1\.weight/);

  const denoiser = ddpmUnet(p);
  // Batch 2 keeps the suite short; `purify bench` times batch 8.
  const batch = 2;
  const x = upload(engine, randomNd(random, [batch, 3, 32, 32]));
  const t = Array.from({ length: batch }, (_, i) => 100 * i);
  const before = engine.stats();
  const start = performance.now();
  const eps = await engine.scopeAsync(() => denoiser.predictEps(x, t).read());
  const ms = performance.now() - start;
  const { lateCompiles, dispatches } = engine.stats();
  assert.ok(eps.every(Number.isFinite), 'finite output');
  console.log(`    CIFAR-10 DDPM forward, batch ${batch}: ${ms.toFixed(0)} ms = ${((batch * 1000) / ms).toFixed(2)} images/s, ${dispatches - before.dispatches} dispatches, ${lateCompiles - before.lateCompiles} late compiles`);
  p.dispose();
});

test.run();
