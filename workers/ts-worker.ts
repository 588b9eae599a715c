// Node cannot start a worker thread from a .ts file: run from source, threads start tsx-worker.mjs,
// which registers the tsx loader and then imports the TypeScript module named in workerData.tsEntry.
// Built (dist/), the compiled .js module is started directly and tsx is not needed.
const fromSource = import.meta.url.endsWith('.ts');

export interface WorkerModule {
  /** What to start the thread with. */
  url: URL;
  /** For tsx-worker.mjs: the TypeScript module to load (source runs only). */
  tsEntry?: string;
}

/** A worker module of this folder by name, e.g. workerModule('pool-task'). */
export function workerModule(name: string): WorkerModule {
  return fromSource
    ? { url: new URL('./tsx-worker.mjs', import.meta.url), tsEntry: new URL(`./${name}.ts`, import.meta.url).href }
    : { url: new URL(`./${name}.js`, import.meta.url) };
}
