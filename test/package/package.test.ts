// The package as a user gets it: `npm pack` (prepack builds dist/), the tarball installed with
// `npm install` into an empty folder, then used there — the library from `node -e`, the examples,
// a strict TypeScript consumer, the `purify` command and an esbuild bundle of the browser example.
// The library and the CLI must give the same purified bytes for the same image, options and seed.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const repo = resolve('.');
const work = mkdtempSync(join(tmpdir(), 'purify-package-'));
const app = join(work, 'app');
const TEN_MINUTES = 10 * 60_000;

function sh(command: string, args: string[], cwd = app): { code: number | null; stdout: string; stderr: string } {
  // Without PURIFY_DATA the install must find its own data.
  const { PURIFY_DATA: _, ...env } = process.env;
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: TEN_MINUTES, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(r: { code: number | null; stdout: string; stderr: string }, what: string): string {
  assert.is(r.code, 0, `${what} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

test('npm pack builds dist/ and ships only what users need', () => {
  const out = ok(sh('npm', ['pack', '--json', '--pack-destination', work], repo), 'npm pack');
  // prepack's build log comes first on stdout, then npm's JSON.
  const packed = JSON.parse(out.slice(out.search(/^\[/m)));
  const files: string[] = packed[0].files.map((f: { path: string }) => f.path);
  for (const must of ['dist/engine/index.js', 'dist/engine/index.d.ts', 'dist/engine/shader-texts.js', 'dist/tools/purify-bin.js', 'dist/workers/pool-task.js', 'dist/browser/purify-gpu.js', 'dist/browser/purifier.worker.js', 'weights/franfee-ddpm-mnist.safetensors', 'data/mnist/t10k-images-idx3-ubyte.gz', 'data/mnist/README.md', 'examples/node-purify.mjs']) {
    assert.ok(files.includes(must), `tarball lacks ${must}`);
  }
  for (const never of ['test/', 'reports/', '.ci/', 'engine/', 'shaders/', 'tools/']) assert.not.ok(files.some((f) => f.startsWith(never)), `tarball ships ${never}`);
  writeFileSync(join(work, 'tarball'), join(work, packed[0].filename));
});

test('the tarball installs into an empty folder, and the library purifies a shipped sample from node -e', () => {
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const tarball = readFileSync(join(work, 'tarball'), 'utf8');
  // The consumer's @types/node: the version this checkout has, so npm's cache usually answers.
  const typesNode = JSON.parse(readFileSync(join(repo, 'node_modules/@types/node/package.json'), 'utf8')).version;
  ok(sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball, `@types/node@${typesNode}`]), 'npm install');
  assert.not.ok(readdirSync(join(app, 'node_modules')).includes('tsx'), 'tsx is a dev dependency only');
  const script = `
    import { readFileSync, writeFileSync } from 'node:fs';
    import { createPurifier } from 'purify-gpu';
    const p = await createPurifier({ method: 'agdm', tStar: 4, seed: 7 });
    const r = await p.purify(readFileSync('node_modules/purify-gpu/examples/digit-7.png'));
    writeFileSync('library.png', p.png(r));
    console.log(JSON.stringify({ labels: r.labels, scale: r.options.scale }));
    p.close();
    process.exit(0);`;
  const out = ok(sh(process.execPath, ['--input-type=module', '-e', script]), 'node -e');
  const result = JSON.parse(out.trim().split('\n').pop()!);
  assert.equal(result.labels, [7]);
  assert.is(result.scale, 30, 'agdm without a scale uses the default s = 30, not an unguided chain');
});

test('the CLI from the install: --version, run with the same bytes as the library, demo --n 4', () => {
  assert.is(ok(sh('npx', ['purify', '--version']), 'purify --version').trim(), JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')).version);
  const run = sh('npx', ['purify', 'run', 'node_modules/purify-gpu/examples/digit-7.png', '--out', 'cli-out', '--method', 'agdm', '--tstar', '4', '--seed', '7']);
  ok(run, 'purify run');
  assert.not.match(run.stderr, /artificially reduced/);
  assert.equal(readFileSync(join(app, 'cli-out/digit-7.purified.png')), readFileSync(join(app, 'library.png')), 'CLI and library give the same bytes');
  const demo = sh('npx', ['purify', 'demo', '--n', '4', '--grid', 'demo-out/grid.png']);
  assert.match(ok(demo, 'purify demo --n 4'), /\| agdm \| .* %/);
  assert.ok(readdirSync(join(app, 'demo-out')).includes('grid.png'));
  assert.not.ok(readdirSync(join(app, 'node_modules/purify-gpu')).includes('out'), 'nothing written inside the package');
});

test('serve-demo from the install serves the prebuilt page and bundle and writes nothing into the package', async () => {
  const packageDir = join(app, 'node_modules/purify-gpu');
  const before = readdirSync(packageDir, { recursive: true }).length;
  const server = spawn(process.execPath, [join(packageDir, 'dist/tools/purify-bin.js'), 'serve-demo', '--port', '0'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let stdout = '';
    const url = await new Promise<string>((resolve, reject) => {
      server.stdout.on('data', (chunk) => {
        stdout += chunk;
        const m = stdout.match(/http:\/\/127\.0\.0\.1:\d+\//);
        if (m) resolve(m[0]);
      });
      server.on('exit', (code) => reject(new Error(`serve-demo exited with ${code} before serving`)));
    });
    for (const path of ['', 'demo.js', 'purifier.worker.js', 'weights/mnist-cnn.safetensors']) {
      const response = await fetch(url + path);
      assert.is(response.status, 200, `GET /${path}`);
    }
  } finally {
    server.kill();
  }
  assert.is(readdirSync(packageDir, { recursive: true }).length, before, 'no files added inside node_modules/purify-gpu');
});

test('the examples run from the install; a strict TypeScript consumer type-checks (skipLibCheck false)', () => {
  const examples = join(app, 'node_modules/purify-gpu/examples');
  assert.match(ok(sh(process.execPath, [join(examples, 'node-purify.mjs')]), 'node-purify.mjs'), /label after purification: \d \(agdm, t\*=70, s=30\)/);
  assert.match(ok(sh(process.execPath, [join(examples, 'custom-checkpoint.mjs')]), 'custom-checkpoint.mjs'), /label after purification \d/);
  assert.match(ok(sh(process.execPath, [join(examples, 'pool.mjs'), '4', '2']), 'pool.mjs'), /purified 4 images on 2 threads/);
  // Copied beside the consumer's tsconfig; the sample it reads stays in the package.
  const sampleUrl = new URL(`file://${join(examples, 'digit-7.png')}`).href;
  writeFileSync(join(app, 'typescript-purify.ts'), readFileSync(join(examples, 'typescript-purify.ts'), 'utf8').replace("'./digit-7.png'", `'${sampleUrl}'`));
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, skipLibCheck: false, outDir: 'ts-out', module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'] }, files: ['typescript-purify.ts'] }));
  ok(sh(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', '.']), 'tsc --strict on the example');
  assert.match(ok(sh(process.execPath, ['ts-out/typescript-purify.js']), 'the compiled TypeScript example'), /purified 1 image\(s\) with diffpure; label \d[\s\S]*rejected as expected/);
});

test('the browser example bundles with esbuild, with no plugin and no externals', () => {
  const bundle = join(app, 'bundle.js');
  ok(sh(join(repo, 'node_modules/.bin/esbuild'), ['node_modules/purify-gpu/examples/browser/main.js', '--bundle', '--format=esm', '--platform=browser', `--outfile=${bundle}`, '--log-level=warning']), 'esbuild');
  const text = readFileSync(bundle, 'utf8');
  assert.ok(text.includes('EMBEDDED_SHADERS') || text.includes('@compute'), 'shaders embedded in the bundle');
  assert.not.match(text, /from\s*["']node:/, 'no static node: imports');
});

test.run();
