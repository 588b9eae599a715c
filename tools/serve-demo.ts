// A tiny static server for the browser demo, bound to 127.0.0.1 only: the page, bundles and samples
// from the package's dist/browser/ (rebuilt on start when run from source; an install serves its
// prebuilt copy and writes nothing) and weights/*.safetensors with their list. Nothing else is served.
import { createServer } from 'node:http';
import { readFile, readdir } from 'node:fs/promises';
import { extname } from 'node:path';
import { packageFile } from '../engine/package-files.ts';

const WEB_OUT = packageFile('dist', 'browser');
const fromSource = import.meta.url.endsWith('.ts');
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.png': 'image/png',
  '.md': 'text/markdown; charset=utf-8',
  '.safetensors': 'application/octet-stream',
};
/** Lists the weight files, so the page asks only for those that exist. */
const WEIGHTS_INDEX = '/weights/index.json';
/** One plain path segment: no dot files, no `..`, no separators. */
const SEGMENT = /^[\w-][\w.-]*$/;

export interface DemoServer {
  url: string;
  close(): Promise<void>;
}

/** Maps a URL path to a file this server may serve, or null. */
function fileFor(pathname: string, weightsDir: string): string | null {
  const parts = pathname.split('/').filter(Boolean);
  if (!parts.every((p) => SEGMENT.test(p))) return null;
  if (parts.length === 0) return `${WEB_OUT}/index.html`;
  if (parts.length === 1) return `${WEB_OUT}/${parts[0]}`;
  if (parts.length !== 2) return null;
  if (parts[0] === 'samples') return `${WEB_OUT}/samples/${parts[1]}`;
  if (parts[0] === 'weights' && parts[1].endsWith('.safetensors')) return `${weightsDir}/${parts[1]}`;
  return null;
}

export interface DemoServerOptions {
  /** 0 picks a free port. */
  port?: number;
  /** Rebuild the bundle first (default: when run from source; esbuild is a development tool). */
  build?: boolean;
  /** Where the served weights live (default: the project's weights/). */
  weightsDir?: string;
}

export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  if (options.build ?? fromSource) await (await import('./build-browser.ts')).buildBrowser(WEB_OUT);
  const weightsDir = options.weightsDir ?? packageFile('weights');
  const server = createServer(async (request, response) => {
    if (request.url === WEIGHTS_INDEX) {
      const names = (await readdir(weightsDir)).filter((f) => f.endsWith('.safetensors')).sort();
      response.writeHead(200, { 'content-type': CONTENT_TYPES['.json'], 'cache-control': 'no-store' }).end(JSON.stringify(names));
      return;
    }
    const file = request.method === 'GET' || request.method === 'HEAD' ? fileFor(new URL(request.url ?? '/', 'http://localhost').pathname, weightsDir) : null;
    const body = file && CONTENT_TYPES[extname(file)] ? await readFile(file).catch(() => null) : null;
    if (!file || !body) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    response.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)], 'content-length': body.length, 'cache-control': 'no-store' });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8080, '127.0.0.1', resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
