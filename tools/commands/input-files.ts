// `purify run`'s input files: checked before anything is loaded or written, and given output names
// that keep their paths relative to the inputs' common folder, so a/x.png and b/x.png never collide.
import { statSync } from 'node:fs';
import { dirname, relative, resolve, sep } from 'node:path';

export interface InputFile {
  path: string;
  /** Output path relative to --out, e.g. a/x.purified.png. */
  output: string;
}

function commonFolder(paths: string[]): string {
  let common = dirname(paths[0]).split(sep);
  for (const path of paths.slice(1)) {
    const parts = dirname(path).split(sep);
    let i = 0;
    while (i < common.length && i < parts.length && common[i] === parts[i]) i++;
    common = common.slice(0, i);
  }
  return common.join(sep) || sep;
}

export function inputFiles(paths: string[]): InputFile[] {
  const absolute = paths.map((p) => resolve(p));
  absolute.forEach((path, i) => {
    let stat;
    try {
      stat = statSync(path);
    } catch {
      throw new Error(`${paths[i]}: no such file`);
    }
    if (!stat.isFile()) throw new Error(`${paths[i]}: is a ${stat.isDirectory() ? 'directory' : 'special file'}, not an image file`);
  });
  const seen = new Map<string, string>();
  const root = commonFolder(absolute);
  return absolute.map((path, i) => {
    const output = relative(root, path).replace(/\.[^./]*$/, '') + '.purified.png';
    const other = seen.get(output);
    if (other !== undefined) throw new Error(`${other} and ${paths[i]} would both be written to ${output}`);
    seen.set(output, paths[i]);
    return { path: paths[i], output };
  });
}
