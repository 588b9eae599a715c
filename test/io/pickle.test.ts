import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WeightFormatError } from '../../engine/io/raw-tensor.ts';
import { PickleCallable, unpickle } from '../../engine/io/pickle.ts';
import { findStateDict } from '../../engine/io/state-dict.ts';
import { PickleBuilder } from './fixtures.ts';

const NO_GLOBALS = new Map<string, unknown>();

function load(bytes: Uint8Array, globals: ReadonlyMap<string, unknown> = NO_GLOBALS): unknown {
  return unpickle(bytes, { source: 'test.pkl', globals }).value;
}

function rejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => load(bytes),
    (error: unknown) => error instanceof WeightFormatError && pattern.test(error.message),
  );
}

test('decodes the scalar, container and memo opcodes checkpoints use', () => {
  const pickle = new PickleBuilder()
    .proto(4)
    .raw(0x95, 0, 0, 0, 0, 0, 0, 0, 0) // FRAME
    .emptyDict()
    .raw(0x94) // MEMOIZE
    .mark()
    .str('ints')
    .mark()
    .int(7)
    .int(300)
    .int(-2)
    .long(-(2n ** 70n), 10)
    .tuple()
    .str('flags')
    .none()
    .bool(true)
    .raw(0x86) // TUPLE2
    .str('pi')
    .float(Math.PI)
    .raw(0x8c, 2, 0x68, 0x69) // SHORT_BINUNICODE 'hi'
    .raw(0x43, 2, 1, 2) // SHORT_BINBYTES
    .str('list')
    .emptyList()
    .raw(0x71, 9) // BINPUT 9
    .int(1)
    .raw(0x61) // APPEND
    .str('again')
    .raw(0x68, 9) // BINGET 9
    .setItems()
    .stop()
    .bytes();
  const value = load(pickle) as Map<unknown, unknown>;
  assert.equal(value.get('ints'), [7, 300, -2, -(2n ** 70n)]);
  assert.equal(value.get('flags'), [null, true]);
  assert.is(value.get('pi'), Math.PI);
  assert.equal(value.get('hi'), Uint8Array.from([1, 2]));
  assert.ok(value.get('list') === value.get('again'), 'memo returns the same object');
  assert.equal(value.get('list'), [1]);
});

test('refuses any global outside the allow-list, naming it', () => {
  const system = new PickleBuilder().proto().global('os', 'system').str('echo pwned').raw(0x85).reduce().stop().bytes();
  rejects(system, /refusing to load global os\.system/);
  const stackGlobal = new PickleBuilder().proto(4).str('builtins').str('eval').raw(0x93).stop().bytes();
  rejects(stackGlobal, /refusing to load global builtins\.eval/);
});

test('calls only allow-listed callables, with their arguments', () => {
  const globals = new Map([['m.add', new PickleCallable('m.add', (args) => (args[0] as number) + (args[1] as number))]]);
  const pickle = new PickleBuilder().proto().global('m', 'add').ints([2, 3]).reduce().stop().bytes();
  assert.is(load(pickle, globals), 5);
  const notCallable = new PickleBuilder().proto().int(1).emptyTuple().reduce().stop().bytes();
  rejects(notCallable, /call of a non-callable/);
});

test('unknown opcodes and truncation are reported with their offset', () => {
  rejects(new PickleBuilder().proto().none().raw(0x49).bytes(), /pickle offset 3: unsupported pickle opcode 0x49/);
  rejects(new PickleBuilder().proto().raw(0x58, 0xff, 0xff, 0xff, 0xff).bytes(), /pickle offset 2: needs 4294967295 bytes/);
  rejects(new PickleBuilder().proto().raw(0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff).bytes(), /needs Infinity bytes/);
  rejects(new PickleBuilder().proto().none().bytes(), /needs 1 bytes but only 0 remain/);
  rejects(new PickleBuilder().proto().stop().bytes(), /stack underflow/);
  rejects(new PickleBuilder().proto().raw(0x68, 3).bytes(), /memo slot 3 is empty/);
  rejects(new PickleBuilder().proto().tuple().bytes(), /no MARK/);
  rejects(new PickleBuilder().proto(6).bytes(), /protocol 6/);
  rejects(new PickleBuilder().proto().raw(0x8b, 0, 0, 1, 0).bytes(), /exceeds the 1024-byte limit/);
  rejects(new PickleBuilder().proto().raw(0x63, 0x6f, 0x73).bytes(), /not newline-terminated/);
});

test('deep nesting and self-reference cannot hang or overflow the readers', () => {
  const depth = 200_000;
  const nested = new PickleBuilder().proto().emptyDict().raw(0x71, 0).str('x');
  for (let i = 0; i < depth; i++) nested.emptyList();
  for (let i = 0; i < depth - 1; i++) nested.raw(0x61);
  const bytes = nested.raw(0x73).stop().bytes(); // SETITEM
  // Linear-time parsing is what keeps this fast; a hang would hit the runner's per-file limit.
  const root = load(bytes);
  assert.throws(() => findStateDict(root), (error: unknown) => error instanceof WeightFormatError && /nested deeper/.test(error.message));

  const cyclic = new PickleBuilder().proto().emptyDict().raw(0x71, 0).str('self').raw(0x68, 0).raw(0x73).stop().bytes();
  assert.throws(() => findStateDict(load(cyclic)), /contains no tensors/);
});

test.run();
