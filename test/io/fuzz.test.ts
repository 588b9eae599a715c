// Mutated weight files must either parse into self-consistent tensors or fail with a
// WeightFormatError — never another exception, never a hang. Seeded, so failures reproduce.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { unzipSync, zipSync } from 'fflate';
import { type TensorMap, WeightFormatError } from '../../engine/io/raw-tensor.ts';
import { parseWeights } from '../../engine/io/load.ts';
import { writeNpy } from '../../engine/io/npy.ts';
import { writeSafetensors } from '../../engine/io/safetensors.ts';
import {
  FRANFEE_PTH,
  RESNET20_TH,
  type TensorSpec,
  f32Bytes,
  isConsistent,
  legacyCheckpoint,
  readShared,
  seededRandom,
  stateDictPickle,
  zipCheckpoint,
} from './fixtures.ts';

// Override for a longer local hunt, e.g. IO_FUZZ_VARIANTS=20000 IO_FUZZ_SEED=7.
const VARIANTS_PER_SOURCE = Number(process.env.IO_FUZZ_VARIANTS ?? 120);
const SEED = Number(process.env.IO_FUZZ_SEED ?? 0x5eed);

type Random = () => number;
type Mutation = (random: Random) => Uint8Array;

const randomInt = (random: Random, below: number) => Math.floor(random() * below);

function truncate(bytes: Uint8Array, random: Random, regionEnd = bytes.length): Uint8Array {
  return bytes.slice(0, randomInt(random, regionEnd));
}

function flipBytes(bytes: Uint8Array, random: Random, regionStart = 0, regionEnd = bytes.length): Uint8Array {
  const copy = bytes.slice();
  const flips = 1 + randomInt(random, 8);
  for (let i = 0; i < flips; i++) copy[regionStart + randomInt(random, regionEnd - regionStart)] ^= 1 + randomInt(random, 255);
  return copy;
}

/** Replaces whole opcodes-or-arguments with random bytes, so unknown and misplaced opcodes show up. */
function corruptPickle(pickle: Uint8Array, random: Random): Uint8Array {
  const copy = pickle.slice();
  const edits = 1 + randomInt(random, 4);
  for (let i = 0; i < edits; i++) copy[randomInt(random, copy.length)] = randomInt(random, 256);
  return random() < 0.2 ? copy.slice(0, randomInt(random, copy.length)) : copy;
}

function withHeaderLength(bytes: Uint8Array, length: bigint): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setBigUint64(0, length, true);
  return copy;
}

/** Rewrites part of the JSON header text: digits, dtype names, punctuation. */
function editJsonHeader(bytes: Uint8Array, random: Random): Uint8Array {
  const headerLength = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
  const edits: Array<(header: string) => string> = [
    (header) => header.replace(/\d+/, String(randomInt(random, 100_000))),
    (header) => header.replace(/"F32"/, ['"F64"', '"I8"', '"F8_E5M2"', '"f32"', '3'][randomInt(random, 5)]),
    (header) => header.replace(/\[\d+(,\d+)*\]/, ['[]', '[-1]', '[1e30]', '"x"', '[0.5]'][randomInt(random, 5)]),
    (header) => header.replace(/"data_offsets":\[(\d+),(\d+)\]/, (_, a, b) => `"data_offsets":[${b},${a}]`),
    (header) => header.replace('{', ['[', '', '{"__metadata__":{"a":1},'][randomInt(random, 3)]),
    (header) => {
      const at = randomInt(random, header.length);
      return header.slice(0, at) + header.slice(at + 1 + randomInt(random, 5));
    },
  ];
  const edited = new TextEncoder().encode(edits[randomInt(random, edits.length)](text));
  const out = new Uint8Array(8 + edited.length + bytes.length - 8 - headerLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(edited.length), true);
  out.set(edited, 8);
  out.set(bytes.subarray(8 + headerLength), 8 + edited.length);
  return out;
}

/** Corrupts a zip's central directory (its tail), where sizes, offsets and compression methods live. */
function flipZipDirectory(bytes: Uint8Array, random: Random): Uint8Array {
  return flipBytes(bytes, random, Math.max(0, bytes.length - 12_000), bytes.length);
}

function pick(random: Random, mutations: Mutation[]): Uint8Array {
  return mutations[randomInt(random, mutations.length)](random);
}

function smallSafetensors(): Uint8Array {
  const tensors: TensorMap = new Map([
    ['conv.weight', { dtype: 'f32', shape: [2, 1, 3, 3], data: Float32Array.from({ length: 18 }, (_, i) => i / 3) }],
    ['conv.bias', { dtype: 'f16', shape: [2], data: Uint16Array.from([0x3c00, 0x4000]) }],
    ['bn.num_batches_tracked', { dtype: 'i64', shape: [], data: BigInt64Array.from([100n]) }],
  ]);
  return writeSafetensors(tensors, { note: 'fuzz seed' });
}

function smallNpz(level: 0 | 6): Uint8Array {
  return zipSync(
    {
      'w.npy': writeNpy({ dtype: 'f32', shape: [4, 4], data: Float32Array.from({ length: 16 }, (_, i) => i) }),
      'b.npy': writeNpy({ dtype: 'i64', shape: [2], data: BigInt64Array.from([1n, 2n]) }),
    },
    { level },
  );
}

/** A zip checkpoint rebuilt around a mutated data.pkl, so the pickle itself gets fuzzed, not just the zip. */
function rezipWithPickle(bytes: Uint8Array, random: Random): Uint8Array {
  const entries: Record<string, Uint8Array> = unzipSync(bytes);
  const pickleName = Object.keys(entries).find((name) => name.endsWith('data.pkl'))!;
  entries[pickleName] = corruptPickle(entries[pickleName], random);
  return zipSync(entries, { level: 0 });
}

function sources(): Array<{ name: string; bytes: Uint8Array; mutations: (bytes: Uint8Array) => Mutation[] }> {
  const generic = (bytes: Uint8Array): Mutation[] => [(random) => truncate(bytes, random), (random) => flipBytes(bytes, random)];
  const zipMutations = (bytes: Uint8Array): Mutation[] => [
    ...generic(bytes),
    (random) => flipZipDirectory(bytes, random),
    (random) => flipBytes(bytes, random, 0, 400),
  ];
  const safetensors = smallSafetensors();
  const spec: TensorSpec = { storageKey: '0', storageType: 'FloatStorage', storageElements: 6, offset: 0, shape: [2, 3], strides: [3, 1] };
  const tinyLegacy = legacyCheckpoint(stateDictPickle({ w: spec }, true, 'state_dict'), { '0': { elements: 6, bytes: f32Bytes([1, 2, 3, 4, 5, 6]) } });
  const tinyZip = zipCheckpoint(stateDictPickle({ w: spec }, false), { '0': f32Bytes([1, 2, 3, 4, 5, 6]) });
  const franfee = readShared(FRANFEE_PTH) ?? tinyZip;
  const resnet20 = readShared(RESNET20_TH) ?? tinyLegacy;
  // The legacy object pickle ends where the first storage's int64 count begins; fuzz mostly before that.
  const legacyPickleEnd = Math.min(resnet20.length, 16_000);
  return [
    {
      name: 'safetensors',
      bytes: safetensors,
      mutations: (bytes) => [
        ...generic(bytes),
        (random) => withHeaderLength(bytes, [2n ** 64n - 1n, 2n ** 40n, 100n * 1024n * 1024n + 1n, BigInt(bytes.length)][randomInt(random, 4)]),
        (random) => editJsonHeader(bytes, random),
        (random) => editJsonHeader(bytes, random),
      ],
    },
    { name: 'npz (stored)', bytes: smallNpz(0), mutations: zipMutations },
    { name: 'npz (deflated)', bytes: smallNpz(6), mutations: zipMutations },
    {
      name: franfee === tinyZip ? 'zip checkpoint (synthetic)' : 'franfee .pth',
      bytes: franfee,
      mutations: (bytes) => [...zipMutations(bytes), (random) => rezipWithPickle(bytes, random), (random) => rezipWithPickle(bytes, random)],
    },
    {
      name: resnet20 === tinyLegacy ? 'legacy checkpoint (synthetic)' : 'resnet20 .th',
      bytes: resnet20,
      mutations: (bytes) => [
        ...generic(bytes),
        (random) => truncate(bytes, random, legacyPickleEnd),
        (random) => flipBytes(bytes, random, 0, legacyPickleEnd),
        (random) => overlayCorruptPickle(bytes, legacyPickleEnd, random),
      ],
    },
  ];
}

/** Corrupts opcodes in the pickles at the start of a legacy file, keeping the storages after them. */
function overlayCorruptPickle(bytes: Uint8Array, pickleEnd: number, random: Random): Uint8Array {
  const copy = bytes.slice();
  copy.set(corruptPickle(bytes.subarray(0, pickleEnd), random));
  return copy;
}

test('mutated weight files parse consistently or throw WeightFormatError', () => {
  const random = seededRandom(SEED);
  const failures: string[] = [];
  const started = performance.now();
  for (const source of sources()) {
    parseWeights(source.bytes, source.name); // the unmutated seed must be valid
    const mutations = source.mutations(source.bytes);
    let parsed = 0;
    let rejected = 0;
    let slowest = 0;
    for (let variant = 0; variant < VARIANTS_PER_SOURCE; variant++) {
      const mutated = pick(random, mutations);
      const variantStart = performance.now();
      try {
        const tensors = parseWeights(mutated, `${source.name}#${variant}`);
        if (!isConsistent(tensors)) failures.push(`${source.name}#${variant}: parsed into inconsistent tensors`);
        parsed++;
      } catch (error) {
        if (!(error instanceof WeightFormatError)) failures.push(`${source.name}#${variant}: ${(error as Error)?.stack ?? String(error)}`);
        rejected++;
      }
      const elapsed = performance.now() - variantStart;
      slowest = Math.max(slowest, elapsed);
    }
    console.log(`  ${source.name}: ${parsed} parsed, ${rejected} rejected, slowest ${slowest.toFixed(1)} ms`);
  }
  console.log(`  fuzz total ${((performance.now() - started) / 1000).toFixed(1)} s`);
  assert.equal(failures.slice(0, 5), []);
});

test.run();
