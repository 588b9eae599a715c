// Optional comparison: the Franfee MNIST DDPM step in PyTorch on the CPU (tools/bench-torch.py, the
// same weights file), run in the same `purify bench` invocation so both see the same machine load.
// Only runs where a python3 can `import torch` (Debian: apt-get install python3-torch).
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { BenchRecord } from './measure.ts';

const SCRIPT = fileURLToPath(new URL('../bench-torch.py', import.meta.url));
const WEIGHTS = fileURLToPath(new URL('../../weights/franfee-ddpm-mnist.safetensors', import.meta.url));
/** A pyenv or venv python3 on PATH may not see Debian's dist-packages, so /usr/bin/python3 is tried too. */
const PYTHONS = ['python3', '/usr/bin/python3'];

function pythonWithTorch(): string | null {
  for (const python of PYTHONS) {
    if (spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return python;
  }
  return null;
}

/** Bench records from PyTorch for the given batches, or null when no python3 has torch. */
export function runTorch(batches: number[]): BenchRecord[] | null {
  const python = pythonWithTorch();
  if (!python) return null;
  const threads = availableParallelism();
  const result = spawnSync(python, [SCRIPT, WEIGHTS, String(threads), ...batches.map(String)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (result.status !== 0) throw new Error(`tools/bench-torch.py failed (exit ${result.status}): ${result.stderr.trim().split('\n').pop()}`);
  return JSON.parse(result.stdout) as BenchRecord[];
}
