// Node cannot start a worker from a .ts file: this entry registers the tsx loader, then loads the
// TypeScript module named in workerData.tsEntry (a file URL). Piscina calls its default export.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
const entry = await import(workerData.tsEntry);
export default entry.default;
