// Files that ship with the package (weights/, data/), found from wherever this module runs: the
// checkout's engine/ or an install's dist/engine/. Both sit below the folder holding the package's
// package.json, at different depths, so the nearest package.json above this file marks the root.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}: purify-gpu's files are not where the package put them`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/** A path inside the installed package, e.g. packageFile('weights', 'mnist-cnn.safetensors'). */
export const packageFile = (...parts: string[]): string => join(PACKAGE_ROOT, ...parts);
