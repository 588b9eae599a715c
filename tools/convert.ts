import { readFile, writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseWeights, stripPrefix as stripKeyPrefix } from '../engine/io/load.ts';
import { type RawTensor, type TensorMap, f32ToF16Bits, toFloat32 } from '../engine/io/raw-tensor.ts';
import { writeSafetensors } from '../engine/io/safetensors.ts';
import { sha256Hex } from './commands/fingerprint.ts';

export interface ConvertOptions {
  /** Store floating-point tensors as f16; integer and bool tensors keep their type. */
  f16?: boolean;
  /** Key prefix to remove, e.g. `module.` from DataParallel checkpoints. */
  stripPrefix?: string;
}

export interface ConvertResult {
  tensorCount: number;
  outputBytes: number;
  sourceSha256: string;
}

const FLOAT_DTYPES = new Set(['f32', 'f64', 'bf16', 'f16']);

/** Converts any supported weight file to safetensors whose metadata records the source file and its sha256. */
export async function convert(inPath: string, outPath: string, opts: ConvertOptions = {}): Promise<ConvertResult> {
  const input = new Uint8Array(await readFile(inPath));
  const sourceSha256 = sha256Hex(input);
  let tensors = parseWeights(input, basename(inPath));
  if (opts.stripPrefix) tensors = stripKeyPrefix(tensors, opts.stripPrefix);
  if (opts.f16) tensors = toHalfPrecision(tensors);
  const output = writeSafetensors(tensors, { source: basename(inPath), source_sha256: sourceSha256 });
  await writeFile(outPath, output);
  return { tensorCount: tensors.size, outputBytes: output.length, sourceSha256 };
}

function toHalfPrecision(tensors: TensorMap): TensorMap {
  const converted: TensorMap = new Map();
  for (const [name, tensor] of tensors) converted.set(name, FLOAT_DTYPES.has(tensor.dtype) ? toF16(name, tensor) : tensor);
  return converted;
}

/** Refuses rather than silently turning weights beyond the f16 range (±65504) into infinities. */
function toF16(name: string, tensor: RawTensor): RawTensor {
  if (tensor.dtype === 'f16') return tensor;
  const values = toFloat32(tensor, name);
  const bits = f32ToF16Bits(values);
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & 0x7c00) === 0x7c00 && Number.isFinite(values[i])) {
      throw new RangeError(`${name}: element ${i} (${values[i]}) overflows f16`);
    }
  }
  return { dtype: 'f16', shape: tensor.shape, data: bits };
}
