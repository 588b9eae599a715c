// Options every GPU command shares: adapter choice.
import { Engine, precompileAll } from '../../engine/index.ts';

export const deviceOptions = {
  adapter: { type: 'string' },
  backend: { type: 'string' },
} as const;

export async function engineFrom(values: { adapter?: string; backend?: string }, quiet = false): Promise<Engine> {
  const engine = await Engine.create({ adapter: values.adapter, backend: values.backend });
  if (!quiet) console.error(`adapter: ${engine.describe()}`);
  const t0 = performance.now();
  await precompileAll(engine);
  if (!quiet) console.error(`compiled ${engine.stats().pipelines} pipelines in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return engine;
}
