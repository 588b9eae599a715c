// `npm run build` (and prepack): compiles engine/, workers/ and the CLI to dist/ (ESM, .d.ts, source
// maps), embeds shaders/*.wgsl into dist/engine/shader-texts.js, and bundles the browser module,
// worker and demo page into dist/browser/.
// Usage: node --import tsx tools/build-package.ts
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildBrowser } from './build-browser.ts';
import { embeddedShadersModule } from './embed-shaders.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const started = performance.now();
rmSync(`${root}dist`, { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error(`build: tsc failed (exit ${tsc.status ?? tsc.signal})`);
  process.exit(1);
}
// rewriteRelativeImportExtensions rewrites './x.ts' to './x.js' in the emitted JavaScript but tsc 7
// leaves declaration files importing './x.ts', which a consumer's compiler rejects (TS5097).
const RELATIVE_TS = /((?:from|import)\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\.ts\2/g;
for (const file of readdirSync(`${root}dist`, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'))) {
  const path = `${root}dist/${file}`;
  writeFileSync(path, readFileSync(path, 'utf8').replace(RELATIVE_TS, '$1$2$3.js$2'));
}
writeFileSync(`${root}dist/engine/shader-texts.js`, embeddedShadersModule(`${root}shaders`));
chmodSync(`${root}dist/tools/purify-bin.js`, 0o755);
const browser = await buildBrowser();
console.log(`built dist/ (tsc) and ${browser.files.filter((f) => !f.endsWith('.map')).length} browser files in ${((performance.now() - started) / 1000).toFixed(1)} s`);
