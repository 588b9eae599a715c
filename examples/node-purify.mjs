// Purify one digit with the shipped MNIST models and the measured defaults (agdm, t* = 70, s = 30).
// Usage: node node_modules/purify-gpu/examples/node-purify.mjs [IMAGE.png] [OUT.png]
import { readFileSync, writeFileSync } from 'node:fs';
import { createPurifier } from 'purify-gpu';

const input = process.argv[2] ?? new URL('./digit-7.png', import.meta.url);
const purifier = await createPurifier({ method: 'agdm' });
try {
  const result = await purifier.purify(readFileSync(input), { onStep: (done, total) => process.stderr.write(`\rstep ${done}/${total}`) });
  process.stderr.write('\n');
  console.log(`label after purification: ${result.labels[0]} (${result.options.method}, t*=${result.options.tStar}, s=${result.options.scale})`);
  if (process.argv[3]) writeFileSync(process.argv[3], purifier.png(result));
} finally {
  purifier.close();
}
