// Engines for the tests, created lazily once per test process: the adapter's default engine, and one
// engine per kernel variant of engine/ops/tuning.ts (the default one reused), so every variant runs
// on whatever adapter CI has. Tests skip with a printed reason only when no adapter exists at all.
import { Engine, NoAdapterError } from '../../engine/index.ts';
import { precompileAll } from '../../engine/ops/index.ts';
import { TUNING_VARIANTS } from '../../engine/ops/tuning.ts';

export interface VariantEngine {
  variant: string;
  engine: Engine;
}

let enginePromise: Promise<Engine | null> | null = null;
let variantsPromise: Promise<VariantEngine[]> | null = null;

async function create(tuning?: string): Promise<Engine> {
  const engine = await Engine.create({ tuning });
  await precompileAll(engine);
  return engine;
}

export function getEngine(): Promise<Engine | null> {
  enginePromise ??= (async () => {
    try {
      const engine = await create();
      console.log(`  adapter: ${engine.describe()}`);
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

export function getEngines(): Promise<VariantEngine[]> {
  variantsPromise ??= (async () => {
    const base = await getEngine();
    if (!base) return [];
    const engines = await Promise.all(Object.keys(TUNING_VARIANTS).map(async (variant) => ({
      variant,
      engine: variant === base.tuning.name ? base : await create(variant),
    })));
    console.log(`  kernel variants: ${engines.map((e) => `${e.variant} (engine tuning ${e.engine.tuning.name})`).join(', ')}`);
    return engines;
  })();
  return variantsPromise;
}
