// The one module that owns the GPU device: adapter discovery and choice, limits, optional features,
// device loss and uncaptured errors. Works with dawn.node (npm `webgpu`) in Node and with
// `navigator.gpu` in browsers; callers may also inject a GPUDevice they own.

export interface AdapterDescription {
  name: string;
  backend: string;
  software: boolean;
}

export interface DeviceOptions {
  /** Substring of the adapter name (Node/Dawn), e.g. "llvmpipe", "SwiftShader", "NVIDIA". Env: PURIFY_ADAPTER. */
  adapter?: string;
  /** Dawn backend pin (Node only), e.g. "vulkan". Env: PURIFY_BACKEND. */
  backend?: string;
  /** An existing device to use instead of acquiring one. */
  device?: GPUDevice;
  /** Ask for shader-f16 when the adapter has it. */
  wantF16?: boolean;
  /** Extra Dawn toggles, e.g. ['disable_robustness']. Node only. */
  dawnFeatures?: { enable?: string[]; disable?: string[] };
  /** Called once if the device is lost (not called for an explicit destroy()). */
  onLost?: (info: GPUDeviceLostInfo) => void;
}

export interface GpuContext {
  device: GPUDevice;
  adapterName: string;
  adapterInfo: { vendor: string; architecture: string; device: string; description: string };
  features: { timestampQuery: boolean; shaderF16: boolean; subgroups: boolean };
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number; maxComputeWorkgroupStorageSize: number; maxComputeWorkgroupsPerDimension: number; maxComputeInvocationsPerWorkgroup: number };
  software: boolean;
  /** The driver's shader compiler unrolls constant-bound loops (every one measured but SwiftShader's). */
  compilerUnrolls: boolean;
  /** Resolves when the device is lost or destroyed. */
  lost: Promise<GPUDeviceLostInfo>;
  isLost(): boolean;
  destroy(): void;
}

export class NoAdapterError extends Error {}

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const SOFTWARE_NAME = /llvmpipe|lavapipe|swiftshader|software|basic render/i;
const SWIFTSHADER_NAME = /swiftshader/i;

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof (globalThis as any).window === 'undefined';

// Keeps every dawn.node GPU instance reachable for the life of the process: if one is garbage
// collected while its device has work in flight, the driver threads can abort the process.
const liveInstances: GPU[] = [];

async function nodeDawn(): Promise<{ create(flags: string[]): GPU }> {
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_ADD_DRIVER_FILES) {
    const { existsSync } = await import('node:fs');
    // SwiftShader is not in the Vulkan loader's default search path; add it as a last resort.
    if (existsSync(SWIFTSHADER_ICD)) process.env.VK_ADD_DRIVER_FILES = SWIFTSHADER_ICD;
  }
  const mod: any = await import('webgpu');
  Object.assign(globalThis, mod.globals);
  return mod;
}

function dawnFlags(opts: DeviceOptions, adapter?: string): string[] {
  const flags: string[] = [];
  const backend = opts.backend ?? env('PURIFY_BACKEND');
  if (backend) flags.push(`backend=${backend}`);
  if (adapter) flags.push(`adapter=${adapter}`);
  const enable = opts.dawnFeatures?.enable ?? [];
  // Dawn quantises timestamps by default, which makes per-kernel timings useless.
  const disable = ['timestamp_quantization', ...(opts.dawnFeatures?.disable ?? [])];
  if (enable.length) flags.push(`enable-dawn-features=${enable.join(',')}`);
  flags.push(`disable-dawn-features=${disable.join(',')}`);
  return flags;
}

function env(name: string): string | undefined {
  return isNode ? process.env[name] || undefined : undefined;
}

/** Lists the adapters Dawn can see (Node). Dawn reports them when asked for an adapter that does not exist. */
export async function listAdapters(opts: DeviceOptions = {}): Promise<AdapterDescription[]> {
  if (!isNode) {
    const adapter = await navigator.gpu?.requestAdapter();
    if (!adapter) return [];
    const name = adapter.info.description || adapter.info.vendor;
    return [{ name, backend: 'browser', software: SOFTWARE_NAME.test(name) }];
  }
  const dawn = await nodeDawn();
  let message = '';
  try {
    const gpu = dawn.create(dawnFlags(opts, '\u0000no-such-adapter'));
    liveInstances.push(gpu);
    await gpu.requestAdapter();
  } catch (err) {
    message = String((err as Error).message ?? err);
  }
  const adapters: AdapterDescription[] = [];
  for (const m of message.matchAll(/backend: '([^']*)', name: '([^']*)'/g)) {
    adapters.push({ backend: m[1], name: m[2], software: SOFTWARE_NAME.test(m[2]) });
  }
  return adapters;
}

/** Hardware first, then lavapipe (the faster CPU driver), then SwiftShader. */
export function preferredAdapter(adapters: AdapterDescription[]): AdapterDescription | undefined {
  const rank = (a: AdapterDescription) => (!a.software ? 0 : /llvmpipe|lavapipe/i.test(a.name) ? 1 : 2);
  return [...adapters].sort((a, b) => rank(a) - rank(b))[0];
}

/** A dawn.node GPU object restricted to one adapter, for other WebGPU libraries run side by side (Node). */
export async function dawnGpu(adapterName: string, opts: DeviceOptions = {}): Promise<GPU> {
  const gpu = (await nodeDawn()).create(dawnFlags(opts, adapterName));
  liveInstances.push(gpu);
  return gpu;
}

const INSTALL_HINT =
  'No WebGPU adapter found. On Debian 12 install a software Vulkan driver: add the bookworm-backports suite and run ' +
  '`apt-get install -t bookworm-backports mesa-vulkan-drivers` (lavapipe, Mesa >= 24), or `apt-get install chromium` ' +
  `(SwiftShader at ${SWIFTSHADER_ICD}); \`.ci/install-system.sh\` does both.`;

async function requestNodeAdapter(opts: DeviceOptions): Promise<{ adapter: GPUAdapter; name: string }> {
  const dawn = await nodeDawn();
  let wanted = opts.adapter ?? env('PURIFY_ADAPTER');
  if (!wanted) {
    const best = preferredAdapter(await listAdapters(opts));
    if (!best) throw new NoAdapterError(INSTALL_HINT);
    wanted = best.name;
  }
  let gpu: GPU;
  let adapter: GPUAdapter | null = null;
  try {
    gpu = dawn.create(dawnFlags(opts, wanted));
    liveInstances.push(gpu);
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    const known = (await listAdapters(opts)).map((a) => a.name);
    throw new NoAdapterError(`No adapter matches "${wanted}". Available: ${known.length ? known.join('; ') : 'none. ' + INSTALL_HINT}`);
  }
  if (!adapter) throw new NoAdapterError(INSTALL_HINT);
  return { adapter, name: adapter.info.description || wanted };
}

export async function acquireDevice(opts: DeviceOptions = {}): Promise<GpuContext> {
  if (opts.device) return wrapDevice(opts.device, 'injected device', undefined, opts);
  let adapter: GPUAdapter;
  let name: string;
  if (isNode) {
    ({ adapter, name } = await requestNodeAdapter(opts));
  } else {
    if (!navigator.gpu) throw new NoAdapterError('This browser has no navigator.gpu (WebGPU disabled or unsupported).');
    const a = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!a) throw new NoAdapterError('navigator.gpu.requestAdapter() returned null.');
    adapter = a;
    name = a.info.description || `${a.info.vendor} ${a.info.architecture}`;
  }
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  // Row reductions use subgroup operations where the adapter has them (engine/ops/tuning.ts).
  if (adapter.features.has('subgroups')) requiredFeatures.push('subgroups' as GPUFeatureName);
  if (opts.wantF16 && adapter.features.has('shader-f16')) requiredFeatures.push('shader-f16');
  const al = adapter.limits;
  const device = await adapter.requestDevice({
    label: 'purify-gpu',
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: al.maxStorageBufferBindingSize,
      maxBufferSize: al.maxBufferSize,
      maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: al.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: Math.min(al.maxStorageBuffersPerShaderStage, 10),
    },
  });
  return wrapDevice(device, name, adapter, opts);
}

function wrapDevice(device: GPUDevice, name: string, adapter: GPUAdapter | undefined, opts: DeviceOptions): GpuContext {
  let lost = false;
  let destroyedByUs = false;
  const lostPromise = device.lost.then((info) => {
    lost = true;
    if (!destroyedByUs) opts.onLost?.(info);
    return info;
  });
  device.addEventListener('uncapturederror', (event: Event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    // Validation errors mean an engine bug; surface them instead of computing garbage.
    console.error(`[purify-gpu] uncaptured WebGPU error: ${error.message}`);
  });
  const info = adapter?.info ?? device.adapterInfo;
  const l = device.limits;
  return {
    device,
    adapterName: name,
    adapterInfo: { vendor: info?.vendor ?? '', architecture: info?.architecture ?? '', device: info?.device ?? '', description: info?.description ?? '' },
    features: { timestampQuery: device.features.has('timestamp-query'), shaderF16: device.features.has('shader-f16'), subgroups: device.features.has('subgroups') },
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
    software: SOFTWARE_NAME.test(name),
    compilerUnrolls: !SWIFTSHADER_NAME.test(`${name} ${info?.architecture ?? ''} ${info?.description ?? ''}`),
    lost: lostPromise,
    isLost: () => lost,
    destroy() {
      destroyedByUs = true;
      device.destroy();
    },
  };
}

export function describeContext(ctx: GpuContext): string {
  const i = ctx.adapterInfo;
  const feats = [ctx.features.timestampQuery && 'timestamp-query', ctx.features.shaderF16 && 'shader-f16', ctx.features.subgroups && 'subgroups'].filter(Boolean).join(', ') || 'none';
  return `${ctx.adapterName} (vendor ${i.vendor || '?'}, architecture ${i.architecture || '?'}${ctx.software ? ', software' : ''}; features: ${feats})`;
}
