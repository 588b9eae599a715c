import { type TensorMap, WeightFormatError } from './raw-tensor.ts';
import { readNpy } from './npy.ts';
import { unzipEntries } from './zip.ts';

/** Reads np.savez / np.savez_compressed output: a zip (stored or deflated) of `<key>.npy` entries. */
export function readNpz(bytes: Uint8Array, name = 'npz'): TensorMap {
  const tensors: TensorMap = new Map();
  for (const [entry, data] of unzipEntries(bytes, name)) {
    if (!entry.endsWith('.npy')) throw new WeightFormatError(`${name}: unexpected non-.npy entry ${entry}`);
    tensors.set(entry.slice(0, -'.npy'.length), readNpy(data, `${name}:${entry}`));
  }
  return tensors;
}
