// Bundles for browsers with esbuild, into dist/browser/: the package's ES module (purify-gpu.js, from
// web/browser.ts), the GPU worker (purifier.worker.js) and the demo page (demo.js, index.html,
// samples/). The engine is the same code Node runs; engine/shader-texts.ts is replaced by the
// embedded shaders/*.wgsl texts, so browsers compile exactly the WGSL Node does, and Node-only
// modules (dawn.node, node:fs), which sit behind dynamic imports browsers never reach, become
// empty stubs, so a consumer bundling purify-gpu.js needs no plugin or externals.
// Usage: node --import tsx tools/build-browser.ts
import { build, type Plugin } from 'esbuild';
import { cpSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { embeddedShadersModule, shaderFiles } from './embed-shaders.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
export const WEB_OUT = `${root}dist/browser`;

const embedShaders: Plugin = {
  name: 'embed-shaders',
  setup(b) {
    b.onLoad({ filter: /engine[\\/]shader-texts\.ts$/ }, () => ({ contents: embeddedShadersModule(`${root}shaders`), loader: 'js', watchFiles: shaderFiles(`${root}shaders`) }));
  },
};

const nodeOnlyStubs: Plugin = {
  name: 'node-only-stubs',
  setup(b) {
    b.onResolve({ filter: /^(node:.*|webgpu)$/ }, (args) => ({ path: args.path, namespace: 'node-only' }));
    b.onLoad({ filter: /.*/, namespace: 'node-only' }, (args) => ({ contents: `throw new Error(${JSON.stringify(`${args.path} is not available in a browser`)});`, loader: 'js' }));
  },
};

export interface BrowserBuild {
  outDir: string;
  files: string[];
  ms: number;
}

/** Writes purify-gpu.js, purifier.worker.js, demo.js (with source maps), index.html and samples/ (with index.json) into outDir. */
export async function buildBrowser(outDir = WEB_OUT): Promise<BrowserBuild> {
  const started = performance.now();
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: { 'purify-gpu': `${root}web/browser.ts`, demo: `${root}web/demo.ts`, 'purifier.worker': `${root}workers/browser.worker.ts` },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    metafile: true,
    plugins: [embedShaders, nodeOnlyStubs],
    logLevel: 'warning',
  });
  cpSync(`${root}web/index.html`, `${outDir}/index.html`);
  cpSync(`${root}web/samples`, `${outDir}/samples`, { recursive: true });
  const samples = readdirSync(`${outDir}/samples`).filter((f) => f.endsWith('.png')).sort();
  writeFileSync(`${outDir}/samples/index.json`, JSON.stringify(samples) + '\n');
  return { outDir, files: Object.keys(result.metafile.outputs), ms: performance.now() - started };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { outDir, files, ms } = await buildBrowser();
  console.log(`built ${files.filter((f) => !f.endsWith('.map')).join(', ')} into ${outDir} in ${ms.toFixed(0)} ms`);
}
