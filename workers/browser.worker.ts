// PurifierApi served over Comlink from a browser Web Worker (bundled by tools/build-browser.ts).
// The worker owns the WebGPU device; the page only sends images and draws results.
import { expose } from 'comlink';
import shaders from 'purify:shaders';
import { registerShaderSources } from '../engine/shader-source.ts';
import { PurifierService } from './service.ts';

registerShaderSources(shaders);
expose(new PurifierService());
