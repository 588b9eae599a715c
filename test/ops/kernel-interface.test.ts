// The kernel interface check (engine/kernel-interface.ts): the WGSL's bindings and uniform struct
// are read after preprocessing, and a dispatch whose buffers or uniform packing disagree fails
// with the op's name instead of running.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkDispatch, parseKernelInterface } from '../../engine/kernel-interface.ts';
import { fillKernel, empty } from '../../engine/ops/common.ts';
import { Uniforms } from '../../engine/runtime.ts';
import { getEngine } from '../helpers/gpu.ts';

const WGSL = `
// A header comment mentioning @group(0) @binding(9) var<storage, read> ghost: array<f32>;
struct Params { size: u32, /* inline */ groupsX: u32, // rows
  offset: i32, scale: f32 }
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
`;

test('bindings and the uniform struct are read from WGSL, comments ignored', () => {
  const iface = parseKernelInterface(WGSL, 'demo');
  assert.equal([...iface.bindings.entries()], [[0, { name: 'src', kind: 'read' }], [1, { name: 'dst', kind: 'read_write' }], [2, { name: 'p', kind: 'uniform' }]]);
  assert.equal(iface.params, [{ name: 'size', type: 'u32' }, { name: 'groupsX', type: 'u32' }, { name: 'offset', type: 'i32' }, { name: 'scale', type: 'f32' }]);
});

test('a uniform-buffer array is an operand like a read-only storage buffer; the uniform struct stays the last binding', () => {
  const wgsl = `struct Params { n: u32 }
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<uniform> w: array<vec4<f32>, 4096>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;`;
  const iface = parseKernelInterface(wgsl, 'weights');
  assert.equal(iface.bindings.get(1), { name: 'w', kind: 'read' });
  assert.equal(iface.params, [{ name: 'n', type: 'u32' }]);
  checkDispatch(iface, 'weights', 3, ['u32']);
  assert.throws(() => checkDispatch(iface, 'weights', 2, ['u32']), /weights: the WGSL declares bindings \[0, 1, 2, 3\] but the dispatch binds 2 buffer/);
});

test('a matching dispatch passes; each kind of mismatch fails naming the op and both sides', () => {
  const iface = parseKernelInterface(WGSL, 'demo');
  checkDispatch(iface, 'demo', 2, ['u32', 'u32', 'i32', 'f32']);
  assert.throws(() => checkDispatch(iface, 'demo', 2, ['u32', 'u32', 'u32', 'f32']), /demo: the WGSL uniform struct is \{ size: u32, groupsX: u32, offset: i32, scale: f32 \}.*packed \[u32, u32, u32, f32\]/);
  assert.throws(() => checkDispatch(iface, 'demo', 2, ['u32', 'u32', 'i32']), /4 fields/);
  assert.throws(() => checkDispatch(iface, 'demo', 3, ['u32', 'u32', 'i32', 'f32']), /demo: the WGSL declares bindings \[0, 1, 2\] but the dispatch binds 3 buffer/);
  assert.throws(() => checkDispatch(iface, 'demo', 1, ['u32', 'u32', 'i32', 'f32']), /binds 1 buffer/);
  assert.throws(() => checkDispatch(iface, 'demo', 2, null), /binds 2 buffer/);
});

test('what the check cannot verify is refused when the pipeline is built', () => {
  assert.throws(() => parseKernelInterface('struct P { v: vec4<f32> }\n@group(0) @binding(0) var<uniform> p: P;', 'vec'), /vec: uniform field "v: vec4<f32>" is not a u32, i32 or f32 scalar/);
  assert.throws(() => parseKernelInterface('@group(0) @binding(0) var<uniform> p: Missing;', 'missing'), /the uniform struct Missing is not declared/);
  assert.throws(() => parseKernelInterface('@group(0) @binding(0) var<storage, read> a: array<f32>;\n@group(0) @binding(0) var<storage, read> b: array<f32>;', 'twice'), /binding 0 is declared twice/);
});

test('the engine refuses a real kernel dispatched with a uniform packed as the wrong type', async () => {
  const engine = await getEngine();
  if (!engine) return;
  const out = empty(engine, [8], 'interface test');
  const kernel = fillKernel(engine.tuning);
  // fill's struct is { size: u32, groupsX: u32, value: f32 }: an integer value is an easy slip.
  assert.throws(() => engine.dispatch(kernel, [out], new Uniforms().u32(8, 1, 3), [1]), /fill \(fill:.*\{ size: u32, groupsX: u32, value: f32 \}.*packed \[u32, u32, u32\]/);
  assert.throws(() => engine.dispatch(kernel, [out, out], new Uniforms().u32(8, 1).f32(3), [1]), /fill .*binds 2 buffer/);
  engine.dispatch(kernel, [out], new Uniforms().u32(8, 1).f32(3), [1]);
  assert.equal([...(await out.read())], new Array(8).fill(3));
  out.dispose();
});

test.run();
