import { unzipSync, type UnzipFileInfo } from 'fflate';
import { WeightFormatError } from './raw-tensor.ts';

// A corrupt central directory can claim billions of entries or gigabyte outputs; fflate trusts
// those numbers, so they are vetted before it allocates or loops.
const MAX_ENTRIES = 100_000;
const MAX_TOTAL_BYTES = 2 ** 31;
// DEFLATE cannot expand more than ~1032:1, so a larger claimed ratio is a lie.
const MAX_DEFLATE_RATIO = 1032;

const STORED = 0;
const DEFLATED = 8;

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

export function listZipEntries(bytes: Uint8Array, source: string): string[] {
  const names: string[] = [];
  runUnzip(bytes, source, (info) => {
    names.push(info.name);
    return false;
  });
  return names;
}

/** Extracts the entries `wanted` accepts (all by default), as a Map so entry names cannot collide with object keys. */
export function unzipEntries(
  bytes: Uint8Array,
  source: string,
  wanted: (name: string) => boolean = () => true,
): Map<string, Uint8Array> {
  const expectedSizes = new Map<string, number>();
  let totalBytes = 0;
  const extracted = runUnzip(bytes, source, (info) => {
    if (!wanted(info.name)) return false;
    checkEntry(info, source);
    totalBytes += info.originalSize;
    if (totalBytes > MAX_TOTAL_BYTES) throw new WeightFormatError(`${source}: zip expands to more than ${MAX_TOTAL_BYTES} bytes`);
    expectedSizes.set(info.name, info.originalSize);
    return true;
  });
  const entries = new Map<string, Uint8Array>(Object.entries(extracted));
  for (const [name, data] of entries) {
    if (data.length !== expectedSizes.get(name)) {
      throw new WeightFormatError(`${source}: zip entry ${name} is truncated (${data.length} of ${expectedSizes.get(name)} bytes)`);
    }
  }
  return entries;
}

function checkEntry(info: UnzipFileInfo, source: string): void {
  const { name, compression, size, originalSize } = info;
  if (compression === STORED && size !== originalSize) {
    throw new WeightFormatError(`${source}: stored zip entry ${name} has inconsistent sizes ${size} and ${originalSize}`);
  }
  if (compression === DEFLATED && originalSize > size * MAX_DEFLATE_RATIO + 1024) {
    throw new WeightFormatError(`${source}: zip entry ${name} claims an impossible size ${originalSize} from ${size} compressed bytes`);
  }
  if (compression !== STORED && compression !== DEFLATED) {
    throw new WeightFormatError(`${source}: zip entry ${name} uses unsupported compression method ${compression}`);
  }
}

function runUnzip(bytes: Uint8Array, source: string, filter: (info: UnzipFileInfo) => boolean): Record<string, Uint8Array> {
  let entryCount = 0;
  try {
    return unzipSync(bytes, {
      filter: (info) => {
        if (++entryCount > MAX_ENTRIES) throw new WeightFormatError(`${source}: zip has more than ${MAX_ENTRIES} entries`);
        return filter(info);
      },
    });
  } catch (error) {
    if (error instanceof WeightFormatError) throw error;
    throw new WeightFormatError(`${source}: unreadable zip archive (${(error as Error).message})`);
  }
}
