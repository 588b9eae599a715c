import {
  type DType,
  type RawTensor,
  type TensorMap,
  DTYPE_BYTES,
  WeightFormatError,
  bytesOf,
  dataFromBytes,
  elementCount,
} from './raw-tensor.ts';

// Same bound as the reference Rust implementation: a bigger header is an attack, not a model.
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const METADATA_KEY = '__metadata__';
const HEADER_ALIGNMENT = 8;

const DTYPE_BY_NAME: Readonly<Record<string, DType>> = {
  F32: 'f32',
  F16: 'f16',
  BF16: 'bf16',
  F64: 'f64',
  I64: 'i64',
  I32: 'i32',
  I16: 'i16',
  I8: 'i8',
  U8: 'u8',
  BOOL: 'bool',
};
const NAME_BY_DTYPE = Object.fromEntries(Object.entries(DTYPE_BY_NAME).map(([name, dtype]) => [dtype, name])) as Record<
  DType,
  string
>;

interface HeaderEntry {
  name: string;
  dtype: DType;
  shape: number[];
  begin: number;
  end: number;
}

interface ParsedHeader {
  entries: HeaderEntry[];
  metadata: Record<string, string>;
  dataStart: number;
}

export function readSafetensors(bytes: Uint8Array, name = 'safetensors'): TensorMap {
  const { entries, dataStart } = parseHeader(bytes, name);
  const tensors: TensorMap = new Map();
  for (const entry of entries) {
    const data = dataFromBytes(entry.dtype, bytes.subarray(dataStart + entry.begin, dataStart + entry.end));
    tensors.set(entry.name, { dtype: entry.dtype, shape: entry.shape, data });
  }
  return tensors;
}

export function readSafetensorsMetadata(bytes: Uint8Array, name = 'safetensors'): Record<string, string> {
  return parseHeader(bytes, name).metadata;
}

/** Lays tensors out widest element first so every tensor is naturally aligned in the file. */
export function writeSafetensors(tensors: TensorMap, metadata?: Record<string, string>): Uint8Array {
  const ordered = [...tensors].sort(([, a], [, b]) => DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype]);
  const header: Record<string, unknown> = {};
  if (metadata) header[METADATA_KEY] = metadata;
  let offset = 0;
  for (const [name, tensor] of ordered) {
    if (name === METADATA_KEY) throw new RangeError(`tensor name ${METADATA_KEY} is reserved`);
    if (tensor.data.length !== elementCount(tensor.shape)) {
      throw new RangeError(`tensor ${name} has ${tensor.data.length} elements but shape [${tensor.shape}]`);
    }
    const end = offset + tensor.data.byteLength;
    header[name] = { dtype: NAME_BY_DTYPE[tensor.dtype], shape: tensor.shape, data_offsets: [offset, end] };
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil((8 + json.length) / HEADER_ALIGNMENT) * HEADER_ALIGNMENT - 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.fill(0x20, 8, 8 + headerLength);
  out.set(json, 8);
  let position = 8 + headerLength;
  for (const [, tensor] of ordered) {
    out.set(bytesOf(tensor.data), position);
    position += tensor.data.byteLength;
  }
  return out;
}

function parseHeader(bytes: Uint8Array, source: string): ParsedHeader {
  if (bytes.length < 8) throw new WeightFormatError(`${source}: ${bytes.length} bytes is too short for a safetensors file`);
  const declared = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES) || declared > BigInt(bytes.length - 8)) {
    throw new WeightFormatError(`${source}: safetensors header length ${declared} exceeds the file or the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const dataStart = 8 + Number(declared);
  const json = parseJson(bytes.subarray(8, dataStart), source);
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [key, value] of Object.entries(json)) {
    if (key === METADATA_KEY) Object.assign(metadata, parseMetadata(value, source));
    else entries.push(parseEntry(key, value, source));
  }
  checkCoverage(entries, bytes.length - dataStart, source);
  return { entries, metadata, dataStart };
}

function parseJson(headerBytes: Uint8Array, source: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (error) {
    throw new WeightFormatError(`${source}: safetensors header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(parsed)) throw new WeightFormatError(`${source}: safetensors header is not a JSON object`);
  return parsed;
}

function parseMetadata(value: unknown, source: string): Record<string, string> {
  if (!isPlainObject(value) || !Object.values(value).every((item) => typeof item === 'string')) {
    throw new WeightFormatError(`${source}: ${METADATA_KEY} must map strings to strings`);
  }
  return value as Record<string, string>;
}

function parseEntry(name: string, value: unknown, source: string): HeaderEntry {
  const where = `${source}: tensor ${JSON.stringify(name)}`;
  if (!isPlainObject(value)) throw new WeightFormatError(`${where} has no descriptor object`);
  const { dtype: dtypeName, shape, data_offsets: offsets } = value;
  if (typeof dtypeName !== 'string' || !Object.hasOwn(DTYPE_BY_NAME, dtypeName)) {
    throw new WeightFormatError(`${where} has unsupported dtype ${JSON.stringify(dtypeName)}`);
  }
  if (!isIntegerArray(shape)) throw new WeightFormatError(`${where} has an invalid shape ${JSON.stringify(shape)}`);
  if (!isIntegerArray(offsets) || offsets.length !== 2 || offsets[0] > offsets[1]) {
    throw new WeightFormatError(`${where} has invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const dtype = DTYPE_BY_NAME[dtypeName];
  const [begin, end] = offsets;
  const count = elementCount(shape);
  if (Number.isNaN(count)) throw new WeightFormatError(`${where} has a shape [${shape}] too large to address`);
  const expectedBytes = count * DTYPE_BYTES[dtype];
  if (end - begin !== expectedBytes) {
    throw new WeightFormatError(`${where}: data_offsets span ${end - begin} bytes but shape [${shape}] of ${dtypeName} needs ${expectedBytes}`);
  }
  return { name, dtype, shape, begin, end };
}

/** Like the reference implementation: tensors must tile the data section exactly — no overlap, no gaps, no tail. */
function checkCoverage(entries: HeaderEntry[], dataLength: number, source: string): void {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const entry of sorted) {
    if (entry.begin !== covered) {
      const problem = entry.begin < covered ? 'overlaps the previous tensor' : `leaves a gap at byte ${covered}`;
      throw new WeightFormatError(`${source}: tensor ${JSON.stringify(entry.name)} at bytes ${entry.begin}..${entry.end} ${problem}`);
    }
    covered = entry.end;
  }
  if (covered !== dataLength) {
    throw new WeightFormatError(`${source}: tensors cover ${covered} bytes but the data section holds ${dataLength}`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isIntegerArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((item) => Number.isSafeInteger(item) && item >= 0);
}
