import { type TensorMap, WeightFormatError } from './raw-tensor.ts';
import { isNpy } from './npy.ts';
import { readNpz } from './npz.ts';
import { PYTORCH_PICKLE_ENTRY, readPytorch } from './pytorch.ts';
import { readSafetensors } from './safetensors.ts';
import { isZip, listZipEntries } from './zip.ts';

export { findStateDict, matchStateDict, stripPrefix } from './state-dict.ts';

const PICKLE_PROTO = 0x80;

/** 8-byte little-endian header length that fits the file, followed by a JSON object. */
function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10 || bytes[8] !== 0x7b) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const headerLength = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  return headerLength <= bytes.length - 8;
}

/** Reads a weight file from disk (Node) or from bytes, whatever its format. */
export async function readWeights(source: string | Uint8Array, name?: string): Promise<TensorMap> {
  if (typeof source !== 'string') return parseWeights(source, name);
  // Imported lazily so browser bundles that only pass bytes never pull in node:fs.
  const { readFile } = await import('node:fs/promises');
  return parseWeights(new Uint8Array(await readFile(source)), name ?? source);
}

/**
 * Sniffs the format from content, not from the file name: a zip holding data.pkl is a PyTorch
 * checkpoint and one holding .npy entries an npz; a leading pickle PROTO is a legacy PyTorch
 * checkpoint; anything else must be safetensors, whose header check rejects non-weights.
 */
export function parseWeights(bytes: Uint8Array, name = 'weights'): TensorMap {
  if (isZip(bytes)) {
    const entries = listZipEntries(bytes, name);
    if (entries.some((entry) => PYTORCH_PICKLE_ENTRY.test(entry))) return readPytorch(bytes, name);
    if (entries.length > 0 && entries.every((entry) => entry.endsWith('.npy'))) return readNpz(bytes, name);
    throw new WeightFormatError(`${name}: zip archive is neither a PyTorch checkpoint nor an .npz`);
  }
  // A safetensors header length can begin with 0x80 too, so recognise its '{' before the pickle byte.
  if (!looksLikeSafetensors(bytes) && bytes[0] === PICKLE_PROTO) return readPytorch(bytes, name);
  if (isNpy(bytes)) throw new WeightFormatError(`${name}: a lone .npy holds one unnamed array, not a set of weights; use readNpy`);
  return readSafetensors(bytes, name);
}
