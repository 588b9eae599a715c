// The library from TypeScript, strictly typed: inputs as PNG bytes, floats or ImageData, typed errors.
// Type-check: tsc --strict --module nodenext --noEmit typescript-purify.ts
import { readFileSync } from 'node:fs';
import { createPurifier, InvalidImageError, PURIFY_DEFAULTS, type PurifyResult } from 'purify-gpu';

const purifier = await createPurifier({ method: 'diffpure', tStar: 10 });
try {
  const png = readFileSync(new URL('./digit-7.png', import.meta.url));
  const result: PurifyResult = await purifier.purify(png);
  console.log(`purified ${result.shape[0]} image(s) with ${result.options.method}; label ${result.labels?.[0]}`);
  console.log(`the defaults for agdm: t* = ${PURIFY_DEFAULTS.methods.agdm.tStar}, s = ${PURIFY_DEFAULTS.methods.agdm.scale}`);
  try {
    await purifier.purify(new Float32Array(784).fill(Number.NaN));
  } catch (err) {
    if (!(err instanceof InvalidImageError)) throw err;
    console.log(`rejected as expected: ${err.message.slice(0, 60)}…`);
  }
} finally {
  purifier.close();
}
