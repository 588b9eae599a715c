import { type DType, type RawTensor, type TensorData, WeightFormatError, elementCount } from './raw-tensor.ts';
import { PickleCallable } from './pickle.ts';
import { gatherStrided, stridedExtent } from './strided.ts';

/** The Python-side `torch.XStorage` class named in a persistent id; it only carries the element type. */
export class StorageType {
  constructor(readonly dtype: DType) {}
}

/** A storage named by a persistent id; legacy checkpoints may view a slice of a root storage. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly elementCount: number,
    readonly elementOffset = 0,
  ) {}
}

/** What `_rebuild_tensor(_v2)` describes; turned into a RawTensor once storage bytes are available. */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly storageOffset: number,
    readonly shape: number[],
    readonly strides: number[],
  ) {}
}

// Views that overlap themselves (stride 0) can be far larger than their storage once made contiguous.
const MAX_EXPANDED_ELEMENTS = 2 ** 24;
const MAX_NESTING = 64;

const STORAGE_DTYPES: ReadonlyArray<[string, DType]> = [
  ['FloatStorage', 'f32'],
  ['HalfStorage', 'f16'],
  ['BFloat16Storage', 'bf16'],
  ['DoubleStorage', 'f64'],
  ['LongStorage', 'i64'],
  ['IntStorage', 'i32'],
  ['ShortStorage', 'i16'],
  ['CharStorage', 'i8'],
  ['ByteStorage', 'u8'],
  ['BoolStorage', 'bool'],
];

const allow = (name: string, invoke: (args: unknown[]) => unknown): [string, unknown] => [name, new PickleCallable(name, invoke)];

/** Everything a state-dict checkpoint may reference; pickle.ts refuses all other globals. */
export const TORCH_GLOBALS: ReadonlyMap<string, unknown> = new Map<string, unknown>([
  allow('collections.OrderedDict', rebuildOrderedDict),
  allow('torch._utils._rebuild_tensor', (args) => rebuildTensor(args, 4, 4)),
  allow('torch._utils._rebuild_tensor_v2', (args) => rebuildTensor(args, 6, 7)),
  allow('torch._utils._rebuild_parameter', (args) => rebuildParameter(args, 3)),
  allow('torch._utils._rebuild_parameter_with_state', (args) => rebuildParameter(args, 4)),
  ...STORAGE_DTYPES.map(([name, dtype]): [string, unknown] => [`torch.${name}`, new StorageType(dtype)]),
]);

function rebuildOrderedDict(args: unknown[]): Map<unknown, unknown> {
  if (args.length !== 0) throw new WeightFormatError('OrderedDict() with arguments is not supported');
  return new Map();
}

function rebuildTensor(args: unknown[], minArity: number, maxArity: number): TensorRef {
  if (args.length < minArity || args.length > maxArity) {
    throw new WeightFormatError(`_rebuild_tensor expects ${minArity}–${maxArity} arguments, got ${args.length}`);
  }
  const [storage, storageOffset, shape, strides] = args;
  if (!(storage instanceof StorageRef)) throw new WeightFormatError('_rebuild_tensor: first argument is not a storage');
  if (!isCount(storageOffset)) throw new WeightFormatError(`_rebuild_tensor: invalid storage offset ${String(storageOffset)}`);
  if (!isCountArray(shape) || !isCountArray(strides) || shape.length !== strides.length) {
    throw new WeightFormatError('_rebuild_tensor: size and stride must be equally long tuples of non-negative ints');
  }
  return new TensorRef(storage, storageOffset, [...shape], [...strides]);
}

function rebuildParameter(args: unknown[], arity: number): TensorRef {
  if (args.length !== arity || !(args[0] instanceof TensorRef)) {
    throw new WeightFormatError(`_rebuild_parameter expects a tensor and ${arity - 1} more arguments`);
  }
  return args[0];
}

/** Parses ('storage', torch.XStorage, key, location, numel, ...) — the shape both checkpoint formats share. */
export function parseStorageId(persistentId: unknown): { type: StorageType; key: string; elementCount: number; rest: unknown[] } {
  if (!Array.isArray(persistentId) || persistentId[0] !== 'storage') {
    const kind = Array.isArray(persistentId) ? String(persistentId[0]) : typeof persistentId;
    throw new WeightFormatError(`persistent id of kind ${kind} is not a storage (whole pickled modules are unsupported)`);
  }
  const [, type, key, , count, ...rest] = persistentId;
  if (!(type instanceof StorageType)) throw new WeightFormatError('storage persistent id lacks a storage type');
  if (typeof key !== 'string' || !isCount(count)) throw new WeightFormatError('storage persistent id has an invalid key or size');
  return { type, key, elementCount: count, rest };
}

/**
 * Replaces every TensorRef inside `root` (in place, through Maps and arrays) by a contiguous RawTensor.
 * `loadStorage` returns the whole root storage of a StorageRef.
 */
export function materializeTensors(root: unknown, loadStorage: (storage: StorageRef) => TensorData, source: string): unknown {
  const built = new Map<TensorRef, RawTensor>();
  const visited = new Set<unknown>();
  const convert = (value: unknown, path: string, depth: number): unknown => {
    if (value instanceof TensorRef) {
      let tensor = built.get(value);
      if (!tensor) built.set(value, (tensor = buildTensor(value, loadStorage, `${source}: tensor ${path || '(root)'}`)));
      return tensor;
    }
    if (!(value instanceof Map) && !Array.isArray(value)) return value;
    if (visited.has(value)) return value;
    if (depth > MAX_NESTING) throw new WeightFormatError(`${source}: containers nested deeper than ${MAX_NESTING} at ${path}`);
    visited.add(value);
    const childPath = (key: unknown) => (path ? `${path}.${String(key)}` : String(key));
    if (value instanceof Map) {
      for (const [key, child] of value) value.set(key, convert(child, childPath(key), depth + 1));
    } else {
      for (let i = 0; i < value.length; i++) value[i] = convert(value[i], childPath(i), depth + 1);
    }
    return value;
  };
  return convert(root, '', 0);
}

function buildTensor(ref: TensorRef, loadStorage: (storage: StorageRef) => TensorData, where: string): RawTensor {
  const { storage, shape, strides } = ref;
  const count = elementCount(shape);
  const start = storage.elementOffset + ref.storageOffset;
  const extent = stridedExtent(shape, strides);
  if (Number.isNaN(count) || ref.storageOffset + extent > storage.elementCount) {
    throw new WeightFormatError(
      `${where}: shape [${shape}] stride [${strides}] at offset ${ref.storageOffset} exceeds its storage of ${storage.elementCount} elements`,
    );
  }
  if (count > Math.max(storage.elementCount, MAX_EXPANDED_ELEMENTS)) {
    throw new WeightFormatError(`${where}: expanded view of ${count} elements is too large`);
  }
  const data = loadStorage(storage);
  if (start + extent > data.length) {
    throw new WeightFormatError(`${where}: storage ${storage.key} holds ${data.length} elements, view needs ${start + extent}`);
  }
  return { dtype: storage.dtype, shape, data: gatherStrided(data, start, shape, strides) };
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isCountArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every(isCount);
}
