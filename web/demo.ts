// The demo page: pick or drop a digit, attack it with PGD on the classifier (when its weights are
// served), purify it step by step, and show images, predicted labels and timings. All GPU work runs
// in a Web Worker behind PurifierApi (Comlink); this thread only decodes, draws and reports.
// window.purifyDemo offers the same actions to scripts (the headless browser test drives it).
import { proxy, transfer, wrap } from 'comlink';
import { decodePng, type RasterImage } from '../engine/data/png.ts';
import { PURIFY_DEFAULTS } from '../engine/purify/defaults.ts';
import type { ImageBatch, PurifierApi, PurifierConfig, PurifyRequest, Shape4, StepProgress, WorkerInfo } from '../workers/api.ts';
import { NO_ADAPTER_HELP, webGpuHelp } from './webgpu-help.ts';

const SIZE = 28;
const SHAPE: Shape4 = [1, 1, SIZE, SIZE];
const PNG_SIGNATURE = [137, 80, 78, 71];

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const input = <T extends HTMLInputElement | HTMLSelectElement = HTMLInputElement>(id: string) => element<T>(id);
const status = (text: string) => (element('status').textContent = text);

const api = wrap<PurifierApi>(new Worker(new URL('./purifier.worker.js', import.meta.url), { type: 'module' }));
/** Buttons and inputs that start or change a job: all disabled while one runs. */
const CONTROLS = ['purify', 'attack', 'file', 'method', 'tStar', 'seed', 'eps', 'pgdSteps'];

export interface Loaded {
  info: WorkerInfo;
  classifier: boolean;
  guidance: boolean;
}

const state: { image?: Float32Array; trueLabel?: number; attacked?: Float32Array; purified?: Float32Array; job?: string } = {};
let jobs = 0;

async function fetchBytes(url: string): Promise<Uint8Array | undefined> {
  const response = await fetch(url);
  return response.ok ? new Uint8Array(await response.arrayBuffer()) : undefined;
}

async function start(): Promise<Loaded> {
  const help = webGpuHelp();
  if (help) throw new Error(help);
  const served = new Set((await (await fetch('./weights/index.json')).json()) as string[]);
  const weights = (name: string) => (served.has(`${name}.safetensors`) ? fetchBytes(`./weights/${name}.safetensors`) : undefined);
  const [denoiser, classifier, guidance] = await Promise.all(['franfee-ddpm-mnist', 'mnist-cnn', 'mnist-guidance'].map(weights));
  if (!denoiser) throw new Error('the server does not serve weights/franfee-ddpm-mnist.safetensors');
  const config: PurifierConfig = {
    denoiser: { name: 'franfee-mnist', bytes: denoiser },
    classifier: classifier && { name: 'mnist-cnn', bytes: classifier },
    guidance: guidance && { name: 'mnist-guidance', bytes: guidance },
    warmUp: new URLSearchParams(location.search).get('warmup') !== '0',
  };
  const buffers = [denoiser, classifier, guidance].filter((b) => b !== undefined).map((b) => b.buffer as ArrayBuffer);
  status('compiling kernels and loading weights in the worker…');
  const info = await api.init(transfer(config, buffers)).catch((err: Error) => {
    throw /requestAdapter|no (WebGPU )?adapter/i.test(err.message) ? new Error(NO_ADAPTER_HELP) : err;
  });
  const loaded = { info, classifier: !!classifier, guidance: !!guidance };
  element<HTMLButtonElement>('purify').disabled = false;
  element<HTMLButtonElement>('attack').disabled = !loaded.classifier;
  element('attackNote').textContent = loaded.classifier ? '' : 'needs weights/mnist-cnn.safetensors (purify train classifier); labels need it too';
  (document.querySelector('option[value=agdm]') as HTMLOptionElement).disabled = !loaded.guidance;
  input<HTMLSelectElement>('method').value = loaded.guidance ? PURIFY_DEFAULTS.method : 'diffpure';
  showMethodDefaults();
  status(`adapter: ${info.adapter}${info.software ? ' (software)' : ''}; models: ${info.models.join(', ')}; ready in ${(info.initMs / 1000).toFixed(1)} s`);
  return loaded;
}

const ready = start();
ready.catch((err: Error) => {
  status(`failed to start: ${err.message}`);
  // Nothing on the page can work now: say so where a visitor looks first.
  const notice = element('notice');
  notice.textContent = err.message;
  notice.hidden = false;
});

// ---------------------------------------------------------------- images

/** Gray planar floats in [0, 1]: exact for grayscale PNGs, canvas-resampled for anything else. */
async function toGray(bytes: Uint8Array): Promise<Float32Array> {
  if (PNG_SIGNATURE.every((b, i) => bytes[i] === b)) {
    const png = decodePng(bytes);
    if (png.width === SIZE && png.height === SIZE) return grayFromRaster(png);
  }
  const bitmap = await createImageBitmap(new Blob([bytes as BlobPart]));
  const canvas = new OffscreenCanvas(SIZE, SIZE);
  const context = canvas.getContext('2d')!;
  context.drawImage(bitmap, 0, 0, SIZE, SIZE);
  const rgba = context.getImageData(0, 0, SIZE, SIZE).data;
  const gray = grayFromRaster({ width: SIZE, height: SIZE, channels: 4, data: new Uint8Array(rgba.buffer) });
  // MNIST digits are light on black; a photo of ink on paper is the other way round.
  const mean = gray.reduce((a, b) => a + b, 0) / gray.length;
  return mean > 0.5 ? gray.map((v) => 1 - v) : gray;
}

function grayFromRaster(image: RasterImage): Float32Array {
  const colors = image.channels >= 3 ? 3 : 1;
  const out = new Float32Array(image.width * image.height);
  for (let p = 0; p < out.length; p++) {
    let sum = 0;
    for (let c = 0; c < colors; c++) sum += image.data[p * image.channels + c];
    out[p] = sum / colors / 255;
  }
  return out;
}

function draw(canvasId: string, pixels: Float32Array | undefined): void {
  const context = element<HTMLCanvasElement>(canvasId).getContext('2d')!;
  const image = context.createImageData(SIZE, SIZE);
  for (let p = 0; p < SIZE * SIZE; p++) {
    const v = Math.round(255 * Math.min(1, Math.max(0, pixels?.[p] ?? 0)));
    image.data.set([v, v, v, 255], p * 4);
  }
  context.putImageData(image, 0, 0);
}

async function caption(id: string, pixels: Float32Array, extra: string): Promise<void> {
  const loaded = await ready;
  let label = '';
  if (loaded.classifier) {
    const [predicted] = await api.classify({ data: pixels.slice(), shape: SHAPE });
    label = `predicted ${predicted}` + (state.trueLabel === undefined ? '' : predicted === state.trueLabel ? ' ✓' : ` ✗ (true ${state.trueLabel})`);
  }
  element(id).textContent = [label, extra].filter(Boolean).join(' · ');
}

async function setImage(bytes: Uint8Array, trueLabel?: number): Promise<void> {
  if (state.job) throw new Error('wait for the running job to finish (or cancel it) before choosing another image');
  state.image = await toGray(bytes);
  // Results, status and progress of the previous image would describe the wrong picture.
  status('');
  element<HTMLProgressElement>('progress').value = 0;
  state.trueLabel = trueLabel;
  state.attacked = state.purified = undefined;
  draw('input', state.image);
  draw('attacked', undefined);
  draw('purified', undefined);
  element('attackedCaption').textContent = 'attacked';
  element('purifiedCaption').textContent = 'purified';
  await caption('inputCaption', state.image, trueLabel === undefined ? 'input' : `input (label ${trueLabel})`);
}

async function selectSample(name: string): Promise<void> {
  document.querySelectorAll('#samples img').forEach((img) => img.classList.toggle('chosen', img.getAttribute('data-name') === name));
  const bytes = await fetchBytes(`./samples/${name}`);
  if (!bytes) throw new Error(`sample ${name} not found`);
  await setImage(bytes, Number(name.match(/_(\d)\.png$/)?.[1]));
}

// ---------------------------------------------------------------- actions

function onProgress(label: string) {
  const bar = element<HTMLProgressElement>('progress');
  return proxy(({ step, steps }: StepProgress) => {
    bar.max = steps;
    bar.value = step;
    status(`${label}: step ${step}/${steps}`);
  });
}

/** Runs one worker job with the Cancel button armed. */
async function job<T>(label: string, body: (jobId: string) => Promise<T>): Promise<{ value: T; ms: number }> {
  await ready;
  if (state.job) throw new Error('a job is already running');
  const jobId = `job-${++jobs}`;
  state.job = jobId;
  const cancel = element<HTMLButtonElement>('cancel');
  cancel.disabled = false;
  const enabled = CONTROLS.map((id) => [id, element<HTMLButtonElement>(id).disabled] as const);
  enabled.forEach(([id]) => (element<HTMLButtonElement>(id).disabled = true));
  document.body.classList.add('busy');
  const started = performance.now();
  try {
    const value = await body(jobId);
    const ms = performance.now() - started;
    status(`${label}: done in ${(ms / 1000).toFixed(2)} s`);
    return { value, ms };
  } catch (err) {
    status(`${label}: ${(err as Error).name === 'AbortError' ? 'cancelled' : (err as Error).message}`);
    throw err;
  } finally {
    cancel.disabled = true;
    enabled.forEach(([id, disabled]) => (element<HTMLButtonElement>(id).disabled = disabled));
    document.body.classList.remove('busy');
    state.job = undefined;
  }
}

/** The t* field shows the chosen method's default (the CLI's and the library's) until edited. */
function showMethodDefaults(): void {
  input('tStar').value = String(PURIFY_DEFAULTS.methods[chosenMethod()].tStar);
  describeMethod();
}

const chosenMethod = () => input<HTMLSelectElement>('method').value as keyof typeof PURIFY_DEFAULTS.methods;

/** Names the chosen method's defaults beside the t* field. */
function describeMethod(): void {
  const method = chosenMethod();
  const { tStar, scale } = PURIFY_DEFAULTS.methods[method];
  element('methodNote').textContent = `default t* ${tStar}, ${method === 'diffpure' ? 'no guidance' : `guidance scale ${scale}`}`;
}

function batchOf(pixels: Float32Array): ImageBatch {
  const data = pixels.slice();
  return transfer({ data, shape: SHAPE }, [data.buffer]);
}

async function attack(overrides: { eps?: number; steps?: number } = {}): Promise<{ data: number[]; ms: number }> {
  if (!state.image) throw new Error('choose an image first');
  if (overrides.eps !== undefined) input('eps').value = String(overrides.eps);
  if (overrides.steps !== undefined) input('pgdSteps').value = String(overrides.steps);
  const eps = Number(input('eps').value);
  const steps = Number(input('pgdSteps').value);
  const labels = state.trueLabel === undefined ? await api.classify({ data: state.image.slice(), shape: SHAPE }) : [state.trueLabel];
  const { value, ms } = await job('PGD', (jobId) => api.attack(batchOf(state.image!), labels, { norm: 'linf', eps, steps, seed: 0, randomStart: true }, onProgress('PGD'), jobId));
  state.attacked = value.data;
  state.purified = undefined;
  draw('attacked', state.attacked);
  draw('purified', undefined);
  await caption('attackedCaption', state.attacked, `PGD-${steps}, ε ${eps}, ${(ms / 1000).toFixed(2)} s`);
  return { data: Array.from(value.data), ms };
}

async function purifyImage(overrides: Partial<PurifyRequest> = {}): Promise<{ data: number[]; ms: number; seed: number }> {
  const source = state.attacked ?? state.image;
  if (!source) throw new Error('choose an image first');
  if (overrides.tStar !== undefined) input('tStar').value = String(overrides.tStar);
  if (overrides.seed !== undefined) input('seed').value = String(overrides.seed);
  if (overrides.method !== undefined) input<HTMLSelectElement>('method').value = overrides.method;
  describeMethod();
  // Only what the page lets one change; the guidance scale and the rest come from the shared defaults table.
  // An empty seed field leaves the seed out: the worker draws a fresh one, as the library does, and the caption names it.
  const seedText = input('seed').value.trim();
  const options: PurifyRequest = { method: input<HTMLSelectElement>('method').value as PurifyRequest['method'], tStar: Number(input('tStar').value), ...(seedText && { seed: Number(seedText) }) };
  const label = `${options.method} t*=${options.tStar}`;
  // The panel shows this job's result only: no earlier image under a new caption while it runs.
  state.purified = undefined;
  draw('purified', undefined);
  element('purifiedCaption').textContent = `purified (${label}: running)`;
  const { value, ms } = await job(label, (jobId) => api.purify(batchOf(source), options, onProgress(label), jobId));
  state.purified = value.data;
  draw('purified', state.purified);
  await caption('purifiedCaption', state.purified, `${label}, seed ${value.seed}, ${(ms / 1000).toFixed(2)} s`);
  return { data: Array.from(value.data), ms, seed: value.seed };
}

// ---------------------------------------------------------------- wiring

const report = (err: Error) => err.name !== 'AbortError' && status(`error: ${err.message}`);
element('attack').addEventListener('click', () => attack().catch(report));
element('purify').addEventListener('click', () => purifyImage().catch(report));
element('cancel').addEventListener('click', () => state.job && void api.cancel(state.job));
input<HTMLSelectElement>('method').addEventListener('change', showMethodDefaults);

const dropZone = element('drop');
const openFile = (file: File) => file.arrayBuffer().then((buffer) => setImage(new Uint8Array(buffer))).catch(report);
dropZone.addEventListener('dragover', (event) => {
  event.preventDefault();
  dropZone.classList.add('over');
});
dropZone.addEventListener('dragleave', () => dropZone.classList.remove('over'));
dropZone.addEventListener('drop', (event) => {
  event.preventDefault();
  dropZone.classList.remove('over');
  const file = event.dataTransfer?.files[0];
  if (file) void openFile(file);
});
input('file').addEventListener('change', () => {
  const file = input('file').files?.[0];
  if (file) void openFile(file);
});

const samples = fetch('./samples/index.json')
  .then((r) => r.json() as Promise<string[]>)
  .then(async (names) => {
    for (const name of names) {
      const img = document.createElement('img');
      img.src = `./samples/${name}`;
      img.alt = name;
      img.dataset.name = name;
      img.addEventListener('click', () => (state.job ? status('a job is running: wait for it or cancel it first') : selectSample(name).catch(report)));
      element('samples').append(img);
    }
    if (names.length) await selectSample(names[0]);
  });
samples.catch(report);

/** What window.purifyDemo offers scripts (the browser test drives the page through it). */
export interface DemoApi {
  ready: Promise<Loaded>;
  samples: Promise<void>;
  selectSample(name: string): Promise<void>;
  attack(options?: { eps?: number; steps?: number }): Promise<{ data: number[]; ms: number }>;
  purify(options?: Partial<PurifyRequest>): Promise<{ data: number[]; ms: number }>;
}

declare global {
  interface Window {
    purifyDemo: DemoApi;
  }
}
window.purifyDemo = { ready, samples, selectSample, attack, purify: purifyImage };
