// Hand-assembled fixtures for the weight readers: there is no Python torch to produce them.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { type RawTensor, type TensorMap, DTYPE_BYTES, elementCount } from '../../engine/io/raw-tensor.ts';

const WEIGHTS_DIR = fileURLToPath(new URL('../../../shared/data/weights/', import.meta.url));
export const FRANFEE_PTH = `${WEIGHTS_DIR}franfee-ddpm-mnist/model_unet_res.pth`;
export const RESNET20_TH = `${WEIGHTS_DIR}akamaster-resnet-cifar10/resnet20-12fca82f.th`;
export const RESNET56_TH = `${WEIGHTS_DIR}akamaster-resnet-cifar10/resnet56-4bfd9763.th`;

/** The real checkpoints live outside the repository; tests that need them are skipped where absent. */
export function readShared(path: string): Uint8Array | undefined {
  return existsSync(path) ? new Uint8Array(readFileSync(path)) : undefined;
}

/** Deterministic PRNG (mulberry32) so fuzz failures reproduce. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Emits pickle opcodes the way CPython's protocol-2 pickler does for the values used here. */
export class PickleBuilder {
  private readonly out: number[] = [];

  raw(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }
  proto(version = 2): this {
    return this.raw(0x80, version);
  }
  mark(): this {
    return this.raw(0x28);
  }
  tuple(): this {
    return this.raw(0x74);
  }
  emptyTuple(): this {
    return this.raw(0x29);
  }
  emptyDict(): this {
    return this.raw(0x7d);
  }
  emptyList(): this {
    return this.raw(0x5d);
  }
  setItems(): this {
    return this.raw(0x75);
  }
  appends(): this {
    return this.raw(0x65);
  }
  reduce(): this {
    return this.raw(0x52);
  }
  persistentId(): this {
    return this.raw(0x51);
  }
  none(): this {
    return this.raw(0x4e);
  }
  bool(value: boolean): this {
    return this.raw(value ? 0x88 : 0x89);
  }
  stop(): this {
    return this.raw(0x2e);
  }
  str(text: string): this {
    const bytes = new TextEncoder().encode(text);
    return this.raw(0x58, ...le(bytes.length, 4), ...bytes);
  }
  int(value: number): this {
    if (value >= 0 && value < 256) return this.raw(0x4b, value);
    if (value >= 0 && value < 65536) return this.raw(0x4d, ...le(value, 2));
    return this.raw(0x4a, ...le(value, 4));
  }
  long(value: bigint, length: number): this {
    const bytes = [];
    for (let i = 0; i < length; i++) bytes.push(Number((value >> BigInt(8 * i)) & 0xffn));
    return this.raw(0x8a, length, ...bytes);
  }
  float(value: number): this {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, value, false);
    return this.raw(0x47, ...bytes);
  }
  global(module: string, name: string): this {
    return this.raw(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  ints(values: readonly number[]): this {
    this.mark();
    for (const value of values) this.int(value);
    return this.tuple();
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

function le(value: number, width: number): number[] {
  return Array.from({ length: width }, (_, i) => (value >>> (8 * i)) & 0xff);
}

export interface TensorSpec {
  storageKey: string;
  storageType: string; // e.g. 'FloatStorage'
  storageElements: number;
  offset: number;
  shape: number[];
  strides: number[];
  parameter?: boolean;
}

/** Pushes `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`, as torch.save emits it. */
export function pushTensor(pickle: PickleBuilder, spec: TensorSpec, legacy: boolean): void {
  if (spec.parameter) pickle.global('torch._utils', '_rebuild_parameter').mark();
  pickle.global('torch._utils', '_rebuild_tensor_v2').mark();
  pickle.mark().str('storage').global('torch', spec.storageType).str(spec.storageKey).str('cpu').int(spec.storageElements);
  if (legacy) pickle.none();
  pickle.tuple().persistentId();
  pickle.int(spec.offset).ints(spec.shape).ints(spec.strides).bool(false);
  pickle.global('collections', 'OrderedDict').emptyTuple().reduce();
  pickle.tuple().reduce();
  if (spec.parameter) pickle.bool(true).global('collections', 'OrderedDict').emptyTuple().reduce().tuple().reduce();
}

/** A dict literal {key: tensor, ...} of tensor specs, optionally nested under `wrapKey` beside an `epoch` entry. */
export function stateDictPickle(tensors: Record<string, TensorSpec>, legacy: boolean, wrapKey?: string): Uint8Array {
  const pickle = new PickleBuilder().proto();
  if (wrapKey) pickle.emptyDict().mark().str('epoch').int(7).str(wrapKey);
  pickle.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const [key, spec] of Object.entries(tensors)) {
    pickle.str(key);
    pushTensor(pickle, spec, legacy);
  }
  pickle.setItems();
  if (wrapKey) pickle.setItems();
  return pickle.stop().bytes();
}

/** A torch.save ≥ 1.6 zip; `storages` maps storage keys to their raw little-endian bytes. */
export function zipCheckpoint(pickle: Uint8Array, storages: Record<string, Uint8Array>): Uint8Array {
  const files: Record<string, Uint8Array> = {
    'archive/data.pkl': pickle,
    'archive/byteorder': new TextEncoder().encode('little'),
    'archive/version': new TextEncoder().encode('3\n'),
  };
  for (const [key, bytes] of Object.entries(storages)) files[`archive/data/${key}`] = bytes;
  return zipSync(files, { level: 0 });
}

/** A pre-1.6 torch.save stream; storages are written in `storages`' key order with their element counts. */
export function legacyCheckpoint(objectPickle: Uint8Array, storages: Record<string, { elements: number; bytes: Uint8Array }>): Uint8Array {
  const magic = new PickleBuilder().proto().long(0x1950a86a20f9469cfc6cn, 10).stop().bytes();
  const protocol = new PickleBuilder().proto().int(1001).stop().bytes();
  const systemInfo = new PickleBuilder()
    .proto()
    .emptyDict()
    .mark()
    .str('protocol_version')
    .int(1001)
    .str('little_endian')
    .bool(true)
    .setItems()
    .stop()
    .bytes();
  const keys = new PickleBuilder().proto().emptyList().mark();
  for (const key of Object.keys(storages)) keys.str(key);
  const keyList = keys.appends().stop().bytes();
  const parts: Uint8Array[] = [magic, protocol, systemInfo, objectPickle, keyList];
  for (const { elements, bytes } of Object.values(storages)) {
    const count = new Uint8Array(8);
    new DataView(count.buffer).setBigInt64(0, BigInt(elements), true);
    parts.push(count, bytes);
  }
  return concat(parts);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function f32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

/** True when every tensor's element count, byte size and dtype agree with its shape. */
export function isConsistent(tensors: TensorMap): boolean {
  return [...tensors.values()].every(isConsistentTensor);
}

function isConsistentTensor(tensor: RawTensor): boolean {
  return (
    Object.hasOwn(DTYPE_BYTES, tensor.dtype) &&
    tensor.shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0) &&
    tensor.data.length === elementCount(tensor.shape) &&
    tensor.data.byteLength === tensor.data.length * DTYPE_BYTES[tensor.dtype]
  );
}
