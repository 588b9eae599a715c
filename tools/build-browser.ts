// Bundles the demo page and its GPU worker for browsers with esbuild, into dist/web/. The engine is
// the same code Node runs; the `purify:shaders` module embeds every shaders/*.wgsl file as text for
// registerShaderSources(), so the browser compiles exactly the WGSL Node does. Node-only paths of
// the engine (dawn.node, node:fs) sit behind dynamic imports that browsers never reach.
// Usage: node --import tsx tools/build-browser.ts
import { build, type Plugin } from 'esbuild';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
export const WEB_OUT = `${root}dist/web`;

const shaderText: Plugin = {
  name: 'purify-shaders',
  setup(b) {
    b.onResolve({ filter: /^purify:shaders$/ }, () => ({ path: 'shaders', namespace: 'purify' }));
    b.onLoad({ filter: /.*/, namespace: 'purify' }, () => {
      const files = readdirSync(`${root}shaders`).filter((f) => f.endsWith('.wgsl'));
      const sources = Object.fromEntries(files.map((f) => [f.replace(/\.wgsl$/, ''), readFileSync(`${root}shaders/${f}`, 'utf8')]));
      return { contents: `export default ${JSON.stringify(sources)};`, loader: 'js', watchFiles: files.map((f) => `${root}shaders/${f}`) };
    });
  },
};

export interface BrowserBuild {
  outDir: string;
  files: string[];
  ms: number;
}

/** Writes demo.js, purifier.worker.js (with source maps), index.html and samples/ (with index.json) into outDir. */
export async function buildBrowser(outDir = WEB_OUT): Promise<BrowserBuild> {
  const started = performance.now();
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    entryPoints: { demo: `${root}web/demo.ts`, 'purifier.worker': `${root}workers/browser.worker.ts` },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    metafile: true,
    external: ['node:*', 'webgpu'],
    plugins: [shaderText],
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
