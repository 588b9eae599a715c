// createPurifier() for Node: a WebGPU device from Dawn, the shipped MNIST models by default (found
// inside the installed package), or any weight file by path.
import { loadClassifier, loadDenoiser } from '../models/catalog.ts';
import { Engine } from '../runtime.ts';
import { PURIFY_DEFAULTS, resolvePurifyOptions } from './defaults.ts';
import { Purifier, type SessionOptions } from './session.ts';

export interface CreatePurifierOptions extends SessionOptions {
  /** Substring of the adapter name (default: the engine's preferred adapter). */
  adapter?: string;
  backend?: string;
  /** Model names or weight files; defaults: PURIFY_DEFAULTS.models. */
  denoiser?: string;
  /** c_φ for agdm; false for none (then only diffpure and gdmp run). */
  guidance?: string | false;
  /** The classifier whose labels are reported; false for none. */
  classifier?: string | false;
}

export async function createPurifier(options: CreatePurifierOptions = {}): Promise<Purifier> {
  const { adapter, backend, denoiser, guidance, classifier, ...session } = options;
  // Bad options fail before a device is opened or a weight file read.
  resolvePurifyOptions(session);
  const engine = await Engine.create({ adapter, backend });
  try {
    const models = {
      denoiser: await loadDenoiser(engine, denoiser ?? PURIFY_DEFAULTS.models.denoiser),
      guidance: guidance === false ? undefined : await loadClassifier(engine, guidance ?? PURIFY_DEFAULTS.models.guidance),
      classifier: classifier === false ? undefined : await loadClassifier(engine, classifier ?? PURIFY_DEFAULTS.models.classifier),
    };
    return new Purifier(engine, models, session);
  } catch (err) {
    engine.destroy();
    throw err;
  }
}
