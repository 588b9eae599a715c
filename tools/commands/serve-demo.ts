import { parseArgs } from 'node:util';
import { startDemoServer } from '../serve-demo.ts';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string', default: '8080' } } });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be an integer in [0, 65535], got "${values.port}"`);
  const server = await startDemoServer({ port });
  console.log(`demo page: ${server.url}  (needs a browser with WebGPU; Ctrl-C stops the server)`);
  await new Promise<never>(() => {});
}
