// The browser build in real headless Chromium: WebGPU on SwiftShader (Chromium's own CPU Vulkan
// driver), the demo page purifies a sample in its Web Worker, and the result equals Node's for the
// same seed on the same driver (a screenshot is saved to a temp dir); with a classifier served, the
// page labels and attacks images.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { readImageFile } from '../../engine/data/image-io.ts';
import type { DemoApi } from '../../web/demo.ts';
import type { PurifyRequest } from '../../workers/api.ts';
import { startDemoServer, type DemoServer } from '../../tools/serve-demo.ts';
import { PURIFY_DEFAULTS } from '../../engine/purify/defaults.ts';
import { createPurifier } from '../../engine/purify/create-purifier.ts';
import { MNIST_GUIDANCE } from '../../engine/models/small-cnn.ts';
import { compare } from '../helpers/check.ts';
import { SAME_AS_SINGLE_DEVICE, randomClassifierBytes, singleDevice } from '../workers/fixtures.ts';

const CHROMIUM = '/usr/bin/chromium';
/** --enable-unsafe-webgpu alone exposes navigator.gpu here; the rest pins SwiftShader and keeps the browser offline and quiet. */
export const CHROMIUM_FLAGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--no-sandbox',
  '--headless=new',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
type DemoWindow = { purifyDemo: DemoApi };
const SAMPLE = 'mnist_00_7.png';
const OPTIONS: PurifyRequest = { method: 'diffpure', tStar: 2, seed: 7 };

const servers: DemoServer[] = [];
let browser: Browser | null = null;

test.after(async () => {
  await browser?.close();
  for (const server of servers) await server.close();
});

/** The demo page in headless Chromium, served with `weightsDir` (default: the project's weights/). */
async function openDemo(weightsDir?: string): Promise<Page> {
  const server = await startDemoServer({ port: 0, weightsDir });
  servers.push(server);
  browser ??= await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  const page = await browser.newPage();
  page.on('pageerror', (err) => console.log(`    page error: ${err.message}`));
  // warmup=0: SwiftShader runs this network about 30× slower than lavapipe; compile only what is used.
  await page.goto(`${server.url}?warmup=0`);
  assert.ok(await page.evaluate(() => 'gpu' in navigator), `navigator.gpu is missing with flags ${CHROMIUM_FLAGS.join(' ')}`);
  const info = await page.evaluate(async () => (await (window as unknown as DemoWindow).purifyDemo.ready).info);
  console.log(`    browser worker: ${info.adapter}, models ${info.models.join(', ')}, ready in ${(info.initMs / 1000).toFixed(1)} s`);
  await page.evaluate(async (sample) => {
    const demo = (window as unknown as DemoWindow).purifyDemo;
    await demo.samples;
    await demo.selectSample(sample);
  }, SAMPLE);
  return page;
}

const haveChromium = () => existsSync(CHROMIUM) || (console.log(`  SKIP: no ${CHROMIUM} (Debian's chromium package)`), false);

test('the demo purifies a sample in headless Chromium exactly as Node does on the same driver', async () => {
  if (!haveChromium()) return;
  const page = await openDemo();
  const result = await page.evaluate((options) => (window as unknown as DemoWindow).purifyDemo.purify(options), OPTIONS);
  console.log(`    browser: ${OPTIONS.method} t*=${OPTIONS.tStar} in ${(result.ms / 1000).toFixed(2)} s`);
  const shot = join(mkdtempSync(join(tmpdir(), 'purify-demo-')), 'demo.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`    screenshot: ${shot}`);

  const input = readImageFile(new URL(`../../web/samples/${SAMPLE}`, import.meta.url).pathname).data;
  const browserResult = Float32Array.from(result.data);
  const swiftshader = compare(browserResult, await singleDevice(input, [1, 1, 28, 28], OPTIONS, 'SwiftShader'));
  console.log(`    max |browser − Node|, both on SwiftShader: ${swiftshader.maxAbs.toExponential(2)}`);
  const lavapipe = compare(browserResult, await singleDevice(input, [1, 1, 28, 28], OPTIONS));
  console.log(`    max |browser on SwiftShader − Node on lavapipe|: ${lavapipe.maxAbs.toExponential(2)}`);
  assert.ok(swiftshader.maxAbs <= SAME_AS_SINGLE_DEVICE, `browser and Node differ by ${swiftshader.maxAbs} on the same driver`);
  assert.ok(browserResult.some((v, i) => Math.abs(v - input[i]) > 0.01), 'the page returned the purified image, not its input');
});

test('purify-gpu/browser (the published bundle) gives the same PNG bytes as the Node library on the same driver', async () => {
  if (!haveChromium()) return;
  const page = await openDemo();
  const settings = { tStar: 2, seed: 7 };
  const browserPng = await page.evaluate(async (s) => {
    const { createPurifier } = await import(new URL('./purify-gpu.js', location.href).href);
    const purifier = await createPurifier({ ...s, weightsUrl: './weights/' });
    const bytes = new Uint8Array(await (await fetch('./samples/mnist_00_7.png')).arrayBuffer());
    const result = await purifier.purify(bytes);
    const out = { png: Array.from(purifier.png(result) as Uint8Array), method: result.options.method, scale: result.options.scale };
    purifier.close();
    return out;
  }, settings);
  assert.equal([browserPng.method, browserPng.scale], ['agdm', PURIFY_DEFAULTS.methods.agdm.scale], 'the browser uses the shared defaults');
  const node = await createPurifier({ ...settings, adapter: 'SwiftShader' });
  const nodePng = node.png(await node.purify(readFileSync(new URL(`../../web/samples/${SAMPLE}`, import.meta.url))));
  node.close();
  assert.equal(Uint8Array.from(browserPng.png), nodePng, 'same bytes from the browser bundle and the Node library (both SwiftShader)');
});

test('while a job runs every control is disabled, and a second job is refused, not queued', async () => {
  if (!haveChromium()) return;
  const page = await openDemo();
  const during = await page.evaluate(async (options) => {
    const demo = (window as unknown as DemoWindow).purifyDemo;
    const first = demo.purify(options);
    await new Promise((r) => setTimeout(r, 0));
    const disabled = ['purify', 'attack', 'file', 'method', 'tStar'].map((id) => (document.getElementById(id) as HTMLButtonElement).disabled);
    const second = await demo.purify(options).then(() => 'ran', (err: Error) => err.message);
    await first;
    const after = (document.getElementById('purify') as HTMLButtonElement).disabled;
    return { disabled, second, after, status: document.getElementById('status')!.textContent };
  }, OPTIONS);
  assert.equal(during.disabled, [true, true, true, true, true], 'controls disabled during the job');
  assert.match(during.second, /already running/);
  assert.is(during.after, false, 'Purify enabled again afterwards');
  assert.match(during.status ?? '', /done in/);
  const tStar = await page.evaluate(() => {
    const method = document.getElementById('method') as HTMLSelectElement;
    method.value = 'diffpure';
    method.dispatchEvent(new Event('change'));
    return (document.getElementById('tStar') as HTMLInputElement).value;
  });
  assert.is(Number(tStar), PURIFY_DEFAULTS.methods.diffpure.tStar, 'the page shows the shared default t*');
  // For looking at, not asserting: the page in the middle of a job.
  await page.evaluate(() => void ((window as unknown as { job: Promise<unknown> }).job = (window as unknown as DemoWindow).purifyDemo.purify({ method: 'diffpure', tStar: 20, seed: 1 })));
  await page.waitForFunction(() => /step \d+\/20/.test(document.getElementById('status')?.textContent ?? ''));
  const shot = join(mkdtempSync(join(tmpdir(), 'purify-demo-')), 'mid-job.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`    screenshot mid-job: ${shot}`);
  await page.evaluate(() => (window as unknown as { job: Promise<unknown> }).job);
});

test('without WebGPU the page says how to enable it', async () => {
  if (!haveChromium()) return;
  const server = await startDemoServer({ port: 0, build: false });
  servers.push(server);
  browser ??= await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  const page = await browser.newPage();
  // A string, not a function: tsx's helpers would not exist in the page.
  await page.addInitScript({ content: "Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined });" });
  await page.goto(server.url);
  await page.waitForFunction(() => /WebGPU/.test(document.getElementById('notice')?.textContent ?? ''));
  const text = await page.evaluate(() => (document.getElementById('notice')!.hidden ? '' : document.getElementById('notice')!.textContent ?? ''));
  assert.match(text, /no WebGPU.*chrome:\/\/flags.*SwiftShader/);
  assert.not.match(text, /requestAdapter/);
  const shot = join(mkdtempSync(join(tmpdir(), 'purify-demo-')), 'no-webgpu.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`    screenshot without WebGPU: ${shot}`);
});

test('with a classifier and c_φ served, the page labels images, attacks them with PGD and purifies with agdm', async () => {
  if (!haveChromium()) return;
  const weightsDir = mkdtempSync(join(tmpdir(), 'purify-weights-'));
  symlinkSync(new URL('../../weights/franfee-ddpm-mnist.safetensors', import.meta.url).pathname, join(weightsDir, 'franfee-ddpm-mnist.safetensors'));
  writeFileSync(join(weightsDir, 'mnist-cnn.safetensors'), randomClassifierBytes(3));
  writeFileSync(join(weightsDir, 'mnist-guidance.safetensors'), randomClassifierBytes(4, MNIST_GUIDANCE));
  const page = await openDemo(weightsDir);
  const eps = 0.3;
  const attacked = await page.evaluate((e) => (window as unknown as DemoWindow).purifyDemo.attack({ eps: e, steps: 2 }), eps);
  const input = readImageFile(new URL(`../../web/samples/${SAMPLE}`, import.meta.url).pathname).data;
  const moved = attacked.data.reduce((m, v, i) => Math.max(m, Math.abs(v - input[i])), 0);
  const captions = await page.$$eval('figcaption', (els) => els.map((el) => el.textContent ?? ''));
  console.log(`    PGD-2 in ${(attacked.ms / 1000).toFixed(2)} s moved pixels by up to ${moved.toFixed(3)} (ε ${eps}); captions: ${captions.join(' | ')}`);
  assert.ok(moved > eps / 2 && moved <= eps + 1e-6, `perturbation ${moved} outside (ε/2, ε]`);
  assert.ok(captions[0].startsWith('predicted ') && captions[1].startsWith('predicted '), 'input and attacked images carry predicted labels');
  const purified = await page.evaluate(() => (window as unknown as DemoWindow).purifyDemo.purify({ method: 'agdm', tStar: 2, seed: 1 }));
  console.log(`    agdm t*=2 on the attacked image in ${(purified.ms / 1000).toFixed(2)} s`);
  assert.ok(purified.data.every((v) => v >= 0 && v <= 1), 'agdm returns images in [0, 1]');
  assert.ok(purified.data.some((v, i) => Math.abs(v - attacked.data[i]) > 0.01), 'agdm changed the attacked image');
});

test.run();
