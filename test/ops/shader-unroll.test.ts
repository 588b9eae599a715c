// `#unroll` (engine/shader-unroll.ts): the expansion itself, the loops it must refuse, and that the
// conv and matmul register tiles come out with constant indices (what SwiftShader needs). The op
// tables (conv, matmul tests) check the unrolled kernels against float64 on every variant.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { convKernels } from '../../engine/ops/conv.ts';
import { preprocess, shaderSource } from '../../engine/shader-source.ts';
import { unrollLoops } from '../../engine/shader-unroll.ts';
import { SOFTWARE_TUNING, SWIFTSHADER_TUNING, type Tuning } from '../../engine/ops/tuning.ts';

const module = (body: string) => `const N = 2u;\nconst M = N * 3u - 1u;\nfn f() {\n${body}\n}\n`;

test('a marked loop becomes one block per iteration, its bound from module consts', () => {
  const out = unrollLoops(module('  #unroll\n  for (var i = 0u; i < M; i++) { let k = i * 2u; a[i] = k; }'), 't');
  assert.not.match(out, /for\s*\(|#unroll/);
  for (let i = 0; i < 5; i++) assert.ok(out.includes(`{ let k = ${i}u * 2u; a[${i}u] = k; }`), `iteration ${i}:\n${out}`);
  assert.not.ok(out.includes('a[5u]'), 'one iteration too many');
});

test('nested marked loops expand fully; member names and longer identifiers are left alone', () => {
  const out = unrollLoops(module('  #unroll\n  for (var j = 1; j < 3; j++) {\n    #unroll\n    for (var v = 0u; v < N; v++) { acc[j][v] = p.v + vv + f32(v); }\n  }'), 't');
  assert.not.match(out, /for\s*\(|#unroll/);
  for (const j of [1, 2]) for (const v of [0, 1]) assert.ok(out.includes(`acc[${j}][${v}u] = p.v + vv + f32(${v}u);`), `j ${j} v ${v}:\n${out}`);
  assert.not.ok(out.includes('acc[0]'), 'the first iteration is FIRST, not 0');
});

test('loops that cannot be unrolled are refused with the shader and the reason', () => {
  const refuse = (body: string, why: RegExp) => assert.throws(() => unrollLoops(module(body), 'demo'), (e: Error) => /shader "demo": cannot unroll/.test(e.message) && why.test(e.message));
  refuse('  #unroll\n  for (var i = 0u; i < p.n; i++) { a[i] = 0.0; }', /not integer expressions/);
  refuse('  #unroll\n  for (var i = 0u; i < N; i++) { if (a[i] > 0.0) { break; } }', /break or continue/);
  refuse('  #unroll\n  for (var i = 0u; i < N; i++) { continue; }', /break or continue/);
  refuse('  #unroll\n  for (var i = 0u; i < N; i++) { i += 1u; }', /assigns i/);
  refuse('  #unroll\n  for (var i = 0u; i < 1000u; i++) { a[i] = 0.0; }', /1000 iterations/);
  refuse('  #unroll\n  loop { break; }', /expected `for/);
  refuse('  #unroll\n  for (var i = 0u; i < UNKNOWN; i++) { a[i] = 0.0; }', /not integer expressions/);
});

const convForward = (tuning: Tuning) => convKernels(tuning).find((k) => k.shader === 'conv2d' && !k.defines?.TRANSPOSED && !k.defines?.WEIGHT_GRAD && !k.defines?.PAD && !k.defines?.PACK)!;

test('without UNROLL (the software tuning: lavapipe unrolls itself) the loops stay loops and the markers go', () => {
  const conv = preprocess(shaderSource('conv2d'), convForward(SOFTWARE_TUNING).defines!, 'conv2d');
  assert.not.match(conv, /^\s*#unroll\s*$/m);
  assert.match(conv.slice(conv.indexOf('fn accumulate')), /for \(var t = 0u; t < TAPS; t\+\+\)/);
});

test('with UNROLL (the swiftshader tuning) the conv forward and matmul tiles index their registers with constants only', () => {
  const forward = convForward(SWIFTSHADER_TUNING);
  assert.is(forward.defines!.UNROLL, true);
  const conv = preprocess(shaderSource('conv2d'), forward.defines!, 'conv2d');
  const matmul = preprocess(shaderSource('matmul'), { TM: 8, NV: 2, BIAS: true, RELU: false, SILU: false, UNROLL: true }, 'matmul');
  // Array reads and writes whose index names anything but literals, `const`s, and `let`s of those.
  const variableIndices = (text: string): string[] => {
    const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    const names = (expression: string) => (expression.match(/\d+[ui]?|[A-Za-z_]\w*/g) ?? []).filter((name) => !/^\d/.test(name));
    const constant = new Set(Array.from(code.matchAll(/\bconst\s+([A-Za-z_]\w*)/g), (m) => m[1]));
    for (const m of code.matchAll(/\blet\s+([A-Za-z_]\w*)\s*=\s*([^;]+);/g)) if (names(m[2]).every((n) => constant.has(n))) constant.add(m[1]);
    return Array.from(code.matchAll(/\b(acc|row|wq|q|half|bv)\[([^\]]*)\]/g), (m) => m[0]).filter((use) => names(use.slice(use.indexOf('['))).some((n) => !constant.has(n)));
  };
  const accumulate = conv.slice(conv.indexOf('fn accumulate'), conv.indexOf('@compute'));
  assert.equal(variableIndices(conv.slice(0, conv.indexOf('fn columnsInside')) + accumulate), [], 'conv accumulate');
  const loadRow = conv.slice(conv.indexOf('fn loadRow'), conv.indexOf('struct Params'));
  assert.equal(variableIndices(conv.slice(0, conv.indexOf('fn columnsInside')) + loadRow), [], 'conv loadRow');
  assert.equal(variableIndices(matmul.slice(matmul.indexOf('var acc'), matmul.lastIndexOf('}'))), [], 'matmul');
  // The same check on the text with its loops intact finds the variable indices it must.
  const looped = preprocess(shaderSource('conv2d'), { ...forward.defines!, UNROLL: false }, 'conv2d');
  assert.ok(variableIndices(looped.slice(looped.indexOf('fn accumulate'), looped.indexOf('@compute'))).length > 0, 'the check cannot see a variable index');
});

test.run();
