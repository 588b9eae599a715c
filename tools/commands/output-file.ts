// Where the CLI's reports, JSON and images land: the folder is created if missing, so an output path
// in a new folder never fails after hours of work.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeOutput(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}
