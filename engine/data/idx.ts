// IDX files (the MNIST format): 0x00 0x00, element type, dimension count, big-endian uint32 sizes, data.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'fflate';

export class IdxFormatError extends Error {
  override name = 'IdxFormatError';
}

export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

const UBYTE_TYPE = 0x08;
const GZIP_MAGIC = [0x1f, 0x8b];

function gunzip(bytes: Uint8Array, source: string): Uint8Array {
  try {
    return gunzipSync(bytes);
  } catch (err) {
    throw new IdxFormatError(`${source}: corrupt gzip stream: ${(err as Error).message}`);
  }
}

/** Parses an IDX file of unsigned bytes, gunzipping it first when it is gzipped. */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  const raw = bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1] ? gunzip(bytes, source) : bytes;
  if (raw.length < 4 || raw[0] !== 0 || raw[1] !== 0) throw new IdxFormatError(`${source}: not an IDX file (bad magic)`);
  const [, , elementType, rank] = raw;
  if (elementType !== UBYTE_TYPE) {
    throw new IdxFormatError(`${source}: element type 0x${elementType.toString(16)} unsupported, only unsigned bytes (0x08)`);
  }
  const dataStart = 4 + 4 * rank;
  if (rank === 0 || raw.length < dataStart) throw new IdxFormatError(`${source}: truncated header (${rank} dimensions)`);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  if (raw.length - dataStart !== size) {
    throw new IdxFormatError(`${source}: dims [${dims.join(', ')}] need ${size} bytes of data, file has ${raw.length - dataStart}`);
  }
  return { dims, data: raw.subarray(dataStart) };
}

export function readIdxFile(path: string): IdxArray {
  return parseIdx(readFileSync(path), path);
}
