// The checkpoint folder of `purify eval`: one JSON file per finished (seed, batch) of a defence, so
// a killed run resumes where it stopped, and shards of one run may share a folder (the files are
// named by image range). run.json holds the fingerprint of everything that decides the results; a
// folder written for other settings is refused rather than mixed in.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KeyedStore } from '../../engine/eval/evaluate.ts';

/** Float32Arrays (a grid's pixels) as base64, so they survive the JSON round trip exactly. */
const replacer = (_key: string, value: unknown) => (value instanceof Float32Array ? { float32: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') } : value);
function reviver(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && 'float32' in value && Object.keys(value).length === 1) {
    const bytes = Buffer.from((value as { float32: string }).float32, 'base64');
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }
  return value;
}

function writeAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  // A kill mid-write leaves the .tmp, never a truncated checkpoint.
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

export function folderStore(dir: string, fingerprint: string): KeyedStore {
  const run = join(dir, 'run.json');
  if (existsSync(run)) {
    const found = (JSON.parse(readFileSync(run, 'utf8')) as { fingerprint: string }).fingerprint;
    if (found !== fingerprint) throw new Error(`checkpoint folder ${dir} was written by a run with other settings or weights; delete it or pass another --checkpoint`);
  } else {
    writeAtomically(run, JSON.stringify({ fingerprint }) + '\n');
  }
  const file = (key: string) => join(dir, `${key}.json`);
  return {
    get: <T>(key: string) => (existsSync(file(key)) ? (JSON.parse(readFileSync(file(key), 'utf8'), reviver) as T) : undefined),
    put: (key, value) => writeAtomically(file(key), JSON.stringify(value, replacer)),
  };
}
