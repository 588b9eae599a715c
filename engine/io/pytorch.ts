import { type TensorData, type TensorMap, DTYPE_BYTES, WeightFormatError, dataFromBytes } from './raw-tensor.ts';
import { unpickle } from './pickle.ts';
import { findStateDict } from './state-dict.ts';
import { StorageRef, TORCH_GLOBALS, materializeTensors, parseStorageId } from './torch-pickle.ts';
import { isZip, listZipEntries, unzipEntries } from './zip.ts';

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL_VERSION = 1001;
const NO_GLOBALS: ReadonlyMap<string, unknown> = new Map();

/** The pickle entry of a zip checkpoint: `data.pkl` inside the archive's single top-level folder. */
export const PYTORCH_PICKLE_ENTRY = /^([^/]+\/)?data\.pkl$/;

/** The state dict of a torch.save checkpoint (zip or legacy), found by findStateDict. */
export function readPytorch(bytes: Uint8Array, name = 'checkpoint'): TensorMap {
  return findStateDict(readPytorchObject(bytes, name), name);
}

/**
 * The whole unpickled checkpoint (dicts as Map, lists and tuples as arrays, tensors as RawTensor),
 * for callers that also want non-tensor entries such as `best_prec1`.
 */
export function readPytorchObject(bytes: Uint8Array, name = 'checkpoint'): unknown {
  return isZip(bytes) ? readZipCheckpoint(bytes, name) : readLegacyCheckpoint(bytes, name);
}

/** torch.save ≥ 1.6: `<archive>/data.pkl` plus one raw little-endian file per storage, `<archive>/data/<key>`. */
function readZipCheckpoint(bytes: Uint8Array, source: string): unknown {
  const pickleName = listZipEntries(bytes, source).find((entry) => PYTORCH_PICKLE_ENTRY.test(entry));
  if (!pickleName) throw new WeightFormatError(`${source}: zip archive has no data.pkl, so it is not a PyTorch checkpoint`);
  const prefix = pickleName.slice(0, -'data.pkl'.length);
  const entries = unzipEntries(bytes, source, (entry) => entry === pickleName || entry === `${prefix}byteorder` || entry.startsWith(`${prefix}data/`));
  const byteOrder = entries.get(`${prefix}byteorder`);
  if (byteOrder && new TextDecoder().decode(byteOrder) !== 'little') {
    throw new WeightFormatError(`${source}: big-endian checkpoints are not supported`);
  }

  const storages = new StorageRegistry();
  const pickle = entries.get(pickleName) ?? fail(`${source}: ${pickleName} could not be extracted`);
  const { value } = unpickle(pickle, {
    source: `${source}:${pickleName}`,
    globals: TORCH_GLOBALS,
    persistentLoad: (persistentId) => {
      const { type, key, elementCount } = parseStorageId(persistentId);
      return storages.declare(key, new StorageRef(key, type.dtype, elementCount));
    },
  });

  const loaded = new Map<string, TensorData>();
  return materializeTensors(
    value,
    (storage) => {
      let data = loaded.get(storage.key);
      if (!data) {
        const record = `${prefix}data/${storage.key}`;
        const raw = entries.get(record);
        const expectedBytes = storage.elementCount * DTYPE_BYTES[storage.dtype];
        if (!raw || raw.length !== expectedBytes) {
          throw new WeightFormatError(`${source}: storage record ${record} should hold ${expectedBytes} bytes, found ${raw?.length ?? 'none'}`);
        }
        loaded.set(storage.key, (data = dataFromBytes(storage.dtype, raw)));
      }
      return data;
    },
    source,
  );
}

/**
 * Pre-1.6 torch.save: pickles of the magic number, protocol version, system info, the object and the
 * sorted storage keys, then per key an int64 element count and the raw little-endian elements.
 */
function readLegacyCheckpoint(bytes: Uint8Array, source: string): unknown {
  if (bytes[0] !== 0x80) throw new WeightFormatError(`${source}: neither a zip nor a legacy PyTorch checkpoint`);
  const magic = unpickle(bytes, { source, globals: NO_GLOBALS });
  if (magic.value !== LEGACY_MAGIC) throw new WeightFormatError(`${source}: pickle is not a PyTorch checkpoint (wrong magic number)`);
  const protocol = unpickle(bytes, { source, start: magic.end, globals: NO_GLOBALS });
  if (protocol.value !== LEGACY_PROTOCOL_VERSION) {
    throw new WeightFormatError(`${source}: unsupported legacy protocol version ${String(protocol.value)}`);
  }
  const systemInfo = unpickle(bytes, { source, start: protocol.end, globals: NO_GLOBALS });
  if (!(systemInfo.value instanceof Map) || systemInfo.value.get('little_endian') !== true) {
    throw new WeightFormatError(`${source}: checkpoint was not written on a little-endian machine`);
  }

  const storages = new StorageRegistry();
  const object = unpickle(bytes, {
    source,
    start: systemInfo.end,
    globals: TORCH_GLOBALS,
    persistentLoad: (persistentId) => {
      const { type, key, elementCount, rest } = parseStorageId(persistentId);
      const root = storages.declare(key, new StorageRef(key, type.dtype, elementCount));
      return rest[0] === null || rest[0] === undefined ? root : viewOf(root, rest[0]);
    },
  });
  const keyList = unpickle(bytes, { source, start: object.end, globals: NO_GLOBALS });
  const data = readLegacyStorageData(bytes, keyList.end, keyList.value, storages, source);
  return materializeTensors(
    object.value,
    (storage) => data.get(storage.key) ?? fail(`${source}: storage ${storage.key} has no data`),
    source,
  );
}

/** Very old checkpoints can reference a slice (view_key, offset, size) of a root storage. */
function viewOf(root: StorageRef, viewMetadata: unknown): StorageRef {
  const [, offset, size] = Array.isArray(viewMetadata) ? viewMetadata : [];
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 || offset + size > root.elementCount) {
    throw new WeightFormatError(`storage view of ${root.key} has invalid bounds`);
  }
  return new StorageRef(root.key, root.dtype, size, offset);
}

function readLegacyStorageData(
  bytes: Uint8Array,
  start: number,
  keys: unknown,
  storages: StorageRegistry,
  source: string,
): Map<string, TensorData> {
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'string')) fail(`${source}: storage key list is malformed`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Map<string, TensorData>();
  let position = start;
  for (const key of keys as string[]) {
    const storage = storages.get(key) ?? fail(`${source}: storage ${key} is listed but never used`);
    if (position + 8 > bytes.length) fail(`${source}: truncated before storage ${key}`);
    const count = view.getBigInt64(position, true);
    if (count !== BigInt(storage.elementCount)) {
      fail(`${source}: storage ${key} records ${count} elements, the pickle declared ${storage.elementCount}`);
    }
    const byteLength = storage.elementCount * DTYPE_BYTES[storage.dtype];
    position += 8;
    if (position + byteLength > bytes.length) fail(`${source}: storage ${key} is truncated`);
    data.set(key, dataFromBytes(storage.dtype, bytes.subarray(position, position + byteLength)));
    position += byteLength;
  }
  if (position !== bytes.length) fail(`${source}: ${bytes.length - position} unexpected bytes after the last storage`);
  return data;
}

/** One declaration per storage key; two tensors sharing a storage must agree on what it is. */
class StorageRegistry {
  private readonly declared = new Map<string, StorageRef>();

  declare(key: string, storage: StorageRef): StorageRef {
    const earlier = this.declared.get(key);
    if (!earlier) {
      this.declared.set(key, storage);
      return storage;
    }
    if (earlier.dtype !== storage.dtype || earlier.elementCount !== storage.elementCount) {
      throw new WeightFormatError(`storage ${key} is declared twice with different types or sizes`);
    }
    return earlier;
  }

  get(key: string): StorageRef | undefined {
    return this.declared.get(key);
  }
}

function fail(message: string): never {
  throw new WeightFormatError(message);
}
