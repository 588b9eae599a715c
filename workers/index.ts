// `purify-gpu/workers` (Node): a pool of GPU worker threads for batches, a single Comlink worker,
// and the PurifierApi both serve (a browser Web Worker serves it too: `purify-gpu/browser/worker`).
export { createPool, POOL_DEFAULTS, PoolQueueFullError, PoolTaskError, type PoolOptions, type PoolProgress, type PoolRunOptions, type PurifierPool, type ChunkProgress } from './pool.ts';
export { spawnPurifierWorker, type SpawnedPurifier } from './spawn.ts';
export { PurifierService, type NamedModels } from './service.ts';
export { nodeEndpoint } from './comlink-node.ts';
export type { PurifierApi, PurifierConfig, PurifyRequest, AttackRequest, ImageBatch, ModelSource, Shape4, StepProgress, ProgressCallback, WorkerInfo, WorkerStats } from './api.ts';
export type { PoolWorkerStats } from './pool-protocol.ts';
