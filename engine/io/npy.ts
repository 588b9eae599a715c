import {
  type DType,
  type RawTensor,
  DTYPE_BYTES,
  WeightFormatError,
  bytesOf,
  dataFromBytes,
  elementCount,
} from './raw-tensor.ts';
import { contiguousStrides, gatherStrided } from './strided.ts';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
// numpy pads the header so the data starts on a 64-byte boundary.
const DATA_ALIGNMENT = 64;

const DTYPE_BY_TYPECODE: Readonly<Record<string, DType>> = {
  f2: 'f16',
  f4: 'f32',
  f8: 'f64',
  i1: 'i8',
  i2: 'i16',
  i4: 'i32',
  i8: 'i64',
  u1: 'u8',
  b1: 'bool',
};
const TYPECODE_BY_DTYPE: Partial<Record<DType, string>> = Object.fromEntries(
  Object.entries(DTYPE_BY_TYPECODE).map(([code, dtype]) => [dtype, code]),
);

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

export function isNpy(bytes: Uint8Array): boolean {
  return MAGIC.every((byte, i) => bytes[i] === byte);
}

export function readNpy(bytes: Uint8Array, name = 'npy'): RawTensor {
  if (bytes.length < 10 || !isNpy(bytes)) throw new WeightFormatError(`${name}: not a .npy file (bad magic)`);
  const major = bytes[6];
  if (major < 1 || major > 3) throw new WeightFormatError(`${name}: unsupported .npy version ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) throw new WeightFormatError(`${name}: truncated .npy header`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (dataStart > bytes.length) throw new WeightFormatError(`${name}: .npy header length ${headerLength} exceeds the file`);
  const headerText = decodeHeader(bytes.subarray(8 + lengthBytes, dataStart), major === 3 ? 'utf-8' : 'latin1', name);
  const header = parseHeader(headerText, name);
  const { dtype, bigEndian } = parseDescr(header.descr, name);

  const count = elementCount(header.shape);
  if (Number.isNaN(count)) throw new WeightFormatError(`${name}: shape [${header.shape}] is too large to address`);
  const expectedBytes = count * DTYPE_BYTES[dtype];
  const available = bytes.length - dataStart;
  if (available !== expectedBytes) {
    throw new WeightFormatError(`${name}: shape [${header.shape}] of ${header.descr} needs ${expectedBytes} data bytes, found ${available}`);
  }
  const raw = bytes.slice(dataStart);
  if (bigEndian) swapByteOrder(raw, DTYPE_BYTES[dtype]);
  const data = dataFromBytes(dtype, raw);
  if (!header.fortranOrder) return { dtype, shape: header.shape, data };
  // Column-major storage is the row-major layout of the reversed shape; gather it back to row-major.
  const fortranStrides = contiguousStrides([...header.shape].reverse()).reverse();
  return { dtype, shape: header.shape, data: gatherStrided(data, 0, header.shape, fortranStrides) };
}

export function writeNpy(tensor: RawTensor): Uint8Array {
  const typecode = TYPECODE_BY_DTYPE[tensor.dtype];
  if (!typecode) throw new RangeError(`${tensor.dtype} has no numpy equivalent`);
  const byteOrder = DTYPE_BYTES[tensor.dtype] === 1 ? '|' : '<';
  const shapeText = tensor.shape.length === 1 ? `(${tensor.shape[0]},)` : `(${tensor.shape.join(', ')})`;
  const dict = `{'descr': '${byteOrder}${typecode}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const major = dict.length + 11 > 0xffff ? 2 : 1;
  const prefixLength = 8 + (major === 1 ? 2 : 4);
  const headerLength = Math.ceil((prefixLength + dict.length + 1) / DATA_ALIGNMENT) * DATA_ALIGNMENT - prefixLength;
  const header = dict.padEnd(headerLength - 1, ' ') + '\n';
  const out = new Uint8Array(prefixLength + headerLength + tensor.data.byteLength);
  out.set(MAGIC);
  out[6] = major;
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, headerLength, true);
  else view.setUint32(8, headerLength, true);
  for (let i = 0; i < header.length; i++) out[prefixLength + i] = header.charCodeAt(i);
  out.set(bytesOf(tensor.data), prefixLength + headerLength);
  return out;
}

function decodeHeader(bytes: Uint8Array, encoding: 'utf-8' | 'latin1', name: string): string {
  try {
    return new TextDecoder(encoding, { fatal: true }).decode(bytes);
  } catch {
    throw new WeightFormatError(`${name}: .npy header is not valid ${encoding}`);
  }
}

function parseDescr(descr: string, name: string): { dtype: DType; bigEndian: boolean } {
  const match = /^([<>|=]?)([a-z]\d+)$/.exec(descr);
  const dtype = match ? DTYPE_BY_TYPECODE[match[2]] : undefined;
  if (!match || !dtype) {
    throw new WeightFormatError(`${name}: unsupported .npy dtype ${JSON.stringify(descr)}`);
  }
  return { dtype, bigEndian: match[1] === '>' && DTYPE_BYTES[dtype] > 1 };
}

function swapByteOrder(bytes: Uint8Array, elementBytes: number): void {
  for (let start = 0; start < bytes.length; start += elementBytes) bytes.subarray(start, start + elementBytes).reverse();
}

/**
 * Parses the Python dict literal numpy writes, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }.
 * A dedicated grammar rather than an evaluator: only strings, booleans and tuples of integers are accepted.
 */
function parseHeader(text: string, name: string): NpyHeader {
  let position = 0;
  const fail = (what: string): never => {
    throw new WeightFormatError(`${name}: malformed .npy header at column ${position}: ${what} in ${JSON.stringify(text.slice(0, 200))}`);
  };
  const skipSpace = () => {
    while (position < text.length && /\s/.test(text[position])) position++;
  };
  const accept = (token: string): boolean => {
    skipSpace();
    if (!text.startsWith(token, position)) return false;
    position += token.length;
    return true;
  };
  const expect = (token: string) => {
    if (!accept(token)) fail(`expected ${token}`);
  };
  const readString = (): string => {
    skipSpace();
    const quote = text[position];
    if (quote !== "'" && quote !== '"') return fail('expected a string');
    const close = text.indexOf(quote, position + 1);
    if (close < 0) return fail('unterminated string');
    const value = text.slice(position + 1, close);
    position = close + 1;
    return value;
  };
  const readShape = (): number[] => {
    expect('(');
    const dims: number[] = [];
    while (!accept(')')) {
      skipSpace();
      const digits = /^\d+L?/.exec(text.slice(position, position + 24));
      if (!digits) return fail('expected a dimension');
      position += digits[0].length;
      dims.push(Number.parseInt(digits[0], 10));
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return dims;
  };

  const fields = new Map<string, string | boolean | number[]>();
  expect('{');
  while (!accept('}')) {
    const key = readString();
    expect(':');
    if (key === 'shape') fields.set(key, readShape());
    else if (accept('True')) fields.set(key, true);
    else if (accept('False')) fields.set(key, false);
    else fields.set(key, readString());
    if (!accept(',')) {
      expect('}');
      break;
    }
  }
  const descr = fields.get('descr');
  const fortranOrder = fields.get('fortran_order');
  const shape = fields.get('shape');
  if (typeof descr !== 'string') return fail("missing string 'descr' (structured dtypes are unsupported)");
  if (typeof fortranOrder !== 'boolean') return fail("missing boolean 'fortran_order'");
  if (!Array.isArray(shape) || !shape.every(Number.isSafeInteger)) return fail("missing integer tuple 'shape'");
  return { descr, fortranOrder, shape };
}
