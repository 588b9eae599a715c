// Purify a batch of MNIST test images on a pool of GPU worker threads; the result equals a
// single-device run image for image (each chunk keeps its global noise index).
// Usage: node node_modules/purify-gpu/examples/pool.mjs [N] [WORKERS]
import { loadDataset } from 'purify-gpu';
import { createPool } from 'purify-gpu/workers';

const n = Number(process.argv[2] ?? 8);
const workers = Number(process.argv[3] ?? 2);
const data = loadDataset('mnist', 'test', { limit: n });
const pool = createPool({ workersPerAdapter: workers, guidance: 'mnist-guidance' });
try {
  await pool.ready();
  const { data: purified, seed } = await pool.purify(data.images, [n, 1, 28, 28], { method: 'diffpure', tStar: 10 }, {
    onProgress: ({ done, total }) => process.stderr.write(`\rstep ${done}/${total}`),
  });
  process.stderr.write('\n');
  console.log(`purified ${purified.length / 784} images on ${pool.threads} threads (seed ${seed}: pass it back to replay the noise)`);
} finally {
  await pool.close();
}
