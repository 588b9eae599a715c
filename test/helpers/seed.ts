// Reproducible randomness for the op tests: one seed per run (PURIFY_TEST_SEED, else fresh; the
// test runner draws one for all files), and from it one generator per table case, so a case's
// inputs depend only on the seed and its name, not on which cases ran before it.
import { freshSeed, rng } from './check.ts';

/** The command that reruns this test file with this seed (run-test-file.mjs names the file). */
export function replayCommand(seed: number): string {
  return `PURIFY_TEST_SEED=${seed} node tools/run-tests.mjs ${process.env.PURIFY_TEST_FILE ?? '<test file>'}`;
}

/** The run's seed, printed with how to replay it. */
export function testSeed(): number {
  const seed = freshSeed();
  console.log(`  seed ${seed} (replay: ${replayCommand(seed)})`);
  return seed;
}

/** A generator for one case: FNV-1a of its name mixed into the seed. */
export function caseRandom(seed: number, name: string): () => number {
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return rng(h >>> 0);
}
