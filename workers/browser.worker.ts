// PurifierApi served over Comlink from a browser Web Worker (bundled by tools/build-browser.ts, with
// the shaders embedded). The worker owns the WebGPU device; the page only sends images and draws.
import { expose } from 'comlink';
import { PurifierService } from './service.ts';

expose(new PurifierService());
