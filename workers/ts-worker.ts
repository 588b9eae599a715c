// Node cannot start a worker thread from a .ts file: threads start tsx-worker.mjs, which registers
// the tsx loader and then imports the TypeScript module named in workerData.tsEntry.
export const TSX_WORKER = new URL('./tsx-worker.mjs', import.meta.url);

/** A TypeScript module of this folder, as tsx-worker.mjs expects it in workerData.tsEntry. */
export const workerEntry = (file: string): string => new URL(file, import.meta.url).href;
