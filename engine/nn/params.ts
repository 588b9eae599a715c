// A model's named parameters on the GPU: declared with shapes and initialisers, loaded from any
// supported weight file (names and shapes checked, every mismatch reported by name), saved back.
import { matchStateDict } from '../io/state-dict.ts';
import { toFloat32, type TensorMap } from '../io/raw-tensor.ts';
import { fromArray } from '../ops/common.ts';
import type { Engine } from '../runtime.ts';
import type { Tensor } from '../tensor.ts';

export type Init = 'zeros' | 'ones' | { uniform: number } | { normal: number };

export interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
  /** Buffers such as BatchNorm running statistics are loaded and saved but not trained. */
  trainable: boolean;
}

/** PyTorch's default for conv and linear layers: U(−1/√fanIn, 1/√fanIn). */
export const fanInUniform = (fanIn: number): Init => ({ uniform: 1 / Math.sqrt(fanIn) });

export class ParamSpecs {
  readonly list: ParamSpec[] = [];
  add(name: string, shape: number[], init: Init, trainable = true): this {
    if (this.list.some((p) => p.name === name)) throw new Error(`duplicate parameter ${name}`);
    this.list.push({ name, shape, init, trainable });
    return this;
  }
  shapes(): Map<string, number[]> {
    return new Map(this.list.map((p) => [p.name, p.shape]));
  }
  count(): number {
    return this.list.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  }
}

function seededUniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Params {
  private constructor(readonly engine: Engine, readonly specs: ParamSpecs, private tensors: Map<string, Tensor>) {}

  /** Uploads weights after checking that names and shapes match the specs exactly. */
  static load(engine: Engine, specs: ParamSpecs, weights: TensorMap, source = 'weights'): Params {
    matchStateDict(specs.shapes(), weights, source);
    const tensors = new Map<string, Tensor>();
    for (const spec of specs.list) {
      const data = toFloat32(weights.get(spec.name)!, spec.name);
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i])) throw new RangeError(`${source}: ${spec.name} holds a non-finite value at index ${i}`);
      }
      tensors.set(spec.name, engine.keep(fromArray(engine, data, spec.shape, spec.name)));
    }
    return new Params(engine, specs, tensors);
  }

  /** Fresh parameters from each spec's initialiser, reproducible for a seed. */
  static init(engine: Engine, specs: ParamSpecs, seed = 0): Params {
    const random = seededUniform(seed);
    const tensors = new Map<string, Tensor>();
    for (const spec of specs.list) {
      const n = spec.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      const init = spec.init;
      if (init === 'ones') data.fill(1);
      else if (typeof init === 'object' && 'uniform' in init) for (let i = 0; i < n; i++) data[i] = (2 * random() - 1) * init.uniform;
      else if (typeof init === 'object' && 'normal' in init) {
        for (let i = 0; i < n; i++) data[i] = init.normal * Math.sqrt(-2 * Math.log(Math.max(random(), 1e-12))) * Math.cos(2 * Math.PI * random());
      }
      tensors.set(spec.name, engine.keep(fromArray(engine, data, spec.shape, spec.name)));
    }
    return new Params(engine, specs, tensors);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  get(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no parameter named ${name}`);
    return t;
  }

  trainable(): Tensor[] {
    return this.specs.list.filter((s) => s.trainable).map((s) => this.get(s.name));
  }

  /** Replaces one parameter's tensor (the optimiser's update); the old one is disposed. */
  replace(name: string, t: Tensor): void {
    const old = this.get(name);
    if (old === t) return;
    this.tensors.set(name, this.engine.keep(t));
    old.dispose();
  }

  async toTensorMap(): Promise<TensorMap> {
    const out: TensorMap = new Map();
    for (const spec of this.specs.list) out.set(spec.name, { dtype: 'f32', shape: [...spec.shape], data: await this.get(spec.name).read() });
    return out;
  }

  dispose(): void {
    for (const t of this.tensors.values()) t.dispose();
    this.tensors.clear();
  }
}
