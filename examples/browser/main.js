// A page using the published browser bundle: `import … from 'purify-gpu/browser'`, bundled by
// esbuild or Vite like any dependency. Serve the page, this bundle and the package's weights/
// folder (as ./weights/) from one origin; WebGPU needs https or http://localhost.
import { createPurifier, webGpuHelp } from 'purify-gpu/browser';

const status = document.getElementById('status');
const help = webGpuHelp();
if (help) {
  status.textContent = help;
} else {
  document.getElementById('file').addEventListener('change', async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    status.textContent = 'loading models…';
    const purifier = await createPurifier({ weightsUrl: './weights/', fit: true });
    try {
      const result = await purifier.purify(new Uint8Array(await file.arrayBuffer()), { onStep: (done, total) => (status.textContent = `step ${done}/${total}`) });
      const url = URL.createObjectURL(new Blob([purifier.png(result)], { type: 'image/png' }));
      document.getElementById('purified').src = url;
      status.textContent = `label after purification: ${result.labels?.[0]}`;
    } catch (err) {
      status.textContent = `error: ${err.message}`;
    } finally {
      purifier.close();
    }
  });
}
