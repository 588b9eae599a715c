// One engine per test process, created lazily; tests skip with a printed reason only when no
// adapter exists at all.
import { Engine, NoAdapterError } from '../../engine/index.ts';
import { precompileAll } from '../../engine/ops/index.ts';

let enginePromise: Promise<Engine | null> | null = null;

export function getEngine(): Promise<Engine | null> {
  enginePromise ??= (async () => {
    try {
      const engine = await Engine.create();
      console.log(`  adapter: ${engine.describe()}`);
      await precompileAll(engine);
      return engine;
    } catch (err) {
      if (err instanceof NoAdapterError) {
        console.log(`  SKIP: ${err.message}`);
        return null;
      }
      throw err;
    }
  })();
  return enginePromise;
}
