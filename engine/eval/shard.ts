// `--shard K/N`: shard K (0-based, as Kubernetes' JOB_COMPLETION_INDEX and `seq 0 N-1` count) of N
// takes a contiguous block of the images, the blocks as even as integers allow. Any split gives the
// same per-image results (noise follows the global image index), so shards only divide the work.
import type { ImageRange } from './evaluate.ts';

export interface Shard {
  index: number;
  count: number;
}

export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const [index, count] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!(count >= 1 && index >= 0 && index < count)) throw new RangeError(`--shard must be K/N with 0 ≤ K < N (shards are numbered from 0), got "${text}"`);
  return { index, count };
}

export function shardRange(shard: Shard, n: number): ImageRange {
  if (shard.count > n) throw new RangeError(`${shard.count} shards of ${n} images would leave some empty`);
  return { start: Math.floor((shard.index * n) / shard.count), end: Math.floor(((shard.index + 1) * n) / shard.count) };
}
