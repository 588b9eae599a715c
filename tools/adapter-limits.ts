// What an adapter's compute units give a kernel, measured by probes rather than assumed: the
// arithmetic rate of a register tile of A accumulators per invocation (where the tile spills), and
// the rate of loads whose address differs per invocation from a storage buffer, a uniform buffer
// and a texture (a conv's input reads), beside loads at one address for the whole workgroup (its
// weight reads) and at addresses that are constants in the code (weights with the loops unrolled).
// On CPU drivers these bound what any kernel layout can reach, which is why the conv kernels are
// shaped as they are (shaders/conv2d.wgsl, engine/ops/tuning.ts). The probes are not ops: they
// exist only here. Usage: node --import tsx tools/adapter-limits.ts [--adapter NAME]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Engine } from '../engine/index.ts';

const { values } = parseArgs({ args: process.argv.slice(2), options: { adapter: { type: 'string' } } });
const engine = await Engine.create({ adapter: values.adapter });
const device = engine.gpu.device;
const WG = 64;
const REPEATS = 5;

/** A probe: its WGSL (binding 0 the input when it has one, binding 1 the output), invocations and the work one run does. */
interface Probe {
  name: string;
  code: string;
  invocations: number;
  /** Floating-point operations or loads per run. */
  work: number;
  unit: 'GFLOP/s' | 'G loads/s';
  input?: LoadSource;
}

/** Where a load probe reads: a storage or uniform buffer, or an rgba32float texture (a vec4 per texel). */
type LoadSource = 'storage' | 'uniform' | 'texture';

const FMA_STEPS = 512;

/** A accumulators (vec4s) per invocation, each updated once per step: 8 FLOP (4 FMAs) per vec4 update. */
function fmaProbe(vec4s: number): Probe {
  const invocations = WG * 512;
  return {
    name: `fma tile, ${4 * vec4s} accumulators`,
    invocations,
    work: invocations * FMA_STEPS * vec4s * 8,
    unit: 'GFLOP/s',
    code: `
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  var acc: array<vec4<f32>, ${vec4s}>;
  var w = vec4<f32>(f32(gid.x) * 1e-7, 0.5, 0.25, 0.125);
  for (var a = 0u; a < ${vec4s}u; a++) { acc[a] = vec4<f32>(f32(a)); }
  for (var i = 0u; i < ${FMA_STEPS}u; i++) {
    let s = vec4<f32>(f32(i) * 1e-3);
    for (var a = 0u; a < ${vec4s}u; a++) { acc[a] = fma(w, s, acc[a]); w = w.yzwx; }
  }
  var t = 0.0;
  for (var a = 0u; a < ${vec4s}u; a++) { t += dot(acc[a], vec4<f32>(1.0)); }
  out[gid.x] = t;
}`,
  };
}

/** 64 KiB of vec4s (what a uniform binding holds everywhere). */
const INPUT_VEC4S = 4096;
const LOADS = 256;

/** What one load reads: the cost on CPU drivers is per value, so wider loads amortise nothing there. */
type Element = 'f32' | 'vec4' | 'mat4x4';
const ELEMENT_TYPE: Record<Element, string> = { f32: 'f32', vec4: 'vec4<f32>', mat4x4: 'mat4x4<f32>' };
const ELEMENT_FLOATS: Record<Element, number> = { f32: 1, vec4: 4, mat4x4: 16 };
/** The loaded element as a vec4 to accumulate (every value of a matrix read). */
const ELEMENT_SUM: Record<Element, (v: string) => string> = { f32: (v) => `vec4<f32>(${v})`, vec4: (v) => v, mat4x4: (v) => `(${v}) * vec4<f32>(1.0)` };

/** Texels per row of the texture probes' input. */
const TEXTURE_WIDTH = 64;

/**
 * LOADS loads of one element (a vec4 unless asked) per invocation, at addresses that differ per invocation ('lane'), are the same
 * for the whole workgroup ('uniform address', computed from a loop counter as a conv's weight index
 * is), or are constants written into the code ('constant address', the loop expanded in the WGSL:
 * what a conv would read with its input channels unrolled).
 */
function loadProbe(input: LoadSource, address: 'lane' | 'uniform address' | 'constant address', element: Element = 'vec4'): Probe {
  const invocations = WG * 1024;
  const count = (4 * INPUT_VEC4S) / ELEMENT_FLOATS[element];
  const declaration =
    input === 'texture'
      ? 'var x: texture_2d<f32>;'
      : `var<${input === 'uniform' ? 'uniform' : 'storage, read'}> x: array<${ELEMENT_TYPE[element]}, ${count}>;`;
  const load = (j: string) => (input === 'texture' ? `textureLoad(x, vec2<u32>((${j}) % ${TEXTURE_WIDTH}u, (${j}) / ${TEXTURE_WIDTH}u), 0)` : ELEMENT_SUM[element](`x[${j}]`));
  const body =
    address === 'constant address'
      ? Array.from({ length: LOADS }, (_, i) => `  acc += ${load(`${(i * 37) % count}u`)};`).join('\n')
      : `  let base = ${address === 'lane' ? '(gid.x * 7u)' : '(wg.x * 5u)'} % ${count}u;
  for (var i = 0u; i < ${LOADS}u; i++) { acc += ${load(`(base + i * 3u) % ${count}u`)}; }`;
  const addressName = address === 'lane' ? 'per-invocation address' : address === 'uniform address' ? 'workgroup-uniform address' : 'constant address';
  return {
    name: `${element} loads, ${addressName}, ${input === 'texture' ? 'rgba32float texture' : `${input} buffer`}`,
    invocations,
    work: invocations * LOADS,
    unit: 'G loads/s',
    input,
    code: `
@group(0) @binding(0) ${declaration}
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
  var acc = vec4<f32>(0.0);
${body}
  out[gid.x] = acc.x + acc.y + acc.z + acc.w;
}`,
  };
}

/** The probe's input binding: a 64 KiB buffer or a texture of as many vec4 texels. */
function probeInput(input: LoadSource): { resource: GPUBindingResource; destroy(): void } {
  if (input === 'texture') {
    const texture = device.createTexture({ label: 'adapter-limits input', size: [TEXTURE_WIDTH, INPUT_VEC4S / TEXTURE_WIDTH], format: 'rgba32float', usage: GPUTextureUsage.TEXTURE_BINDING });
    return { resource: texture.createView(), destroy: () => texture.destroy() };
  }
  const buffer = device.createBuffer({ label: 'adapter-limits input', size: INPUT_VEC4S * 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM });
  return { resource: { buffer }, destroy: () => buffer.destroy() };
}

async function measureProbe(probe: Probe): Promise<number> {
  const module = device.createShaderModule({ label: `adapter-limits ${probe.name}`, code: probe.code });
  const pipeline = await device.createComputePipelineAsync({ label: `adapter-limits ${probe.name}`, layout: 'auto', compute: { module, entryPoint: 'main' } });
  const out = device.createBuffer({ label: 'adapter-limits out', size: probe.invocations * 4, usage: GPUBufferUsage.STORAGE });
  const input = probe.input && probeInput(probe.input);
  const entries: GPUBindGroupEntry[] = [{ binding: 1, resource: { buffer: out } }, ...(input ? [{ binding: 0, resource: input.resource }] : [])];
  const bindGroup = device.createBindGroup({ label: `adapter-limits ${probe.name}`, layout: pipeline.getBindGroupLayout(0), entries });
  const run = async () => {
    const encoder = device.createCommandEncoder({ label: `adapter-limits ${probe.name}` });
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(probe.invocations / WG);
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await run();
  const samples: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const start = performance.now();
    await run();
    samples.push(performance.now() - start);
  }
  out.destroy();
  input?.destroy();
  return samples.sort((a, b) => a - b)[REPEATS >> 1];
}

console.log(`adapter: ${engine.describe()}`);
// Other processes on a shared machine slow every number below; the load average tells.
console.log(`load average: ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
console.log(`| probe | ms (median of ${REPEATS}) | rate |`);
console.log('|---|---|---|');
const probes = [
  ...[2, 4, 8, 16, 24, 32].map(fmaProbe),
  ...(['storage', 'uniform', 'texture'] as const).flatMap((input) => (['lane', 'uniform address'] as const).map((address) => loadProbe(input, address))),
  loadProbe('uniform', 'constant address'),
  loadProbe('storage', 'constant address'),
  loadProbe('storage', 'lane', 'f32'),
  loadProbe('storage', 'lane', 'mat4x4'),
];
for (const probe of probes) {
  const ms = await measureProbe(probe);
  console.log(`| ${probe.name} | ${ms.toFixed(2)} | ${(probe.work / ms / 1e6).toFixed(2)} ${probe.unit} |`);
}
engine.destroy();
process.exit(0);
