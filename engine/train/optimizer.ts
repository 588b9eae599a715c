// Adam / AdamW / SGD-momentum over a model's trainable parameters, updated in place on the GPU
// (shaders/optimizer.wgsl). State (moments, step) can be saved and restored for resumable runs.
import { Uniforms, type KernelSpec } from '../runtime.ts';
import { FLAT_WG, flatGrid, fromArray, zeros } from '../ops/common.ts';
import type { Params } from '../nn/params.ts';
import type { Tensor } from '../tensor.ts';
import { toFloat32, type TensorMap } from '../io/raw-tensor.ts';

export interface OptimizerConfig {
  kind: 'adam' | 'adamw' | 'sgd';
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** SGD momentum (stored in beta1). */
  momentum?: number;
  weightDecay?: number;
}

export function optimizerKernel(kind: OptimizerConfig['kind']): KernelSpec {
  return { op: `optimizer_${kind}`, shader: 'optimizer', defines: { WG: FLAT_WG, ADAM: kind !== 'sgd', DECOUPLED: kind === 'adamw' } };
}

export const optimizerKernels = (): KernelSpec[] => (['adam', 'adamw', 'sgd'] as const).map(optimizerKernel);

export class Optimizer {
  step = 0;
  private m = new Map<string, Tensor>();
  private v = new Map<string, Tensor>();

  constructor(private params: Params, readonly config: OptimizerConfig) {
    const engine = params.engine;
    for (const spec of params.specs.list.filter((s) => s.trainable)) {
      this.m.set(spec.name, engine.keep(zeros(engine, spec.shape)));
      if (config.kind !== 'sgd') this.v.set(spec.name, engine.keep(zeros(engine, spec.shape)));
    }
  }

  /** Applies one update; `grads` are in the order of params.trainable(). lr may follow a schedule. */
  apply(grads: Tensor[], lr = this.config.lr): void {
    const c = this.config;
    const names = this.params.specs.list.filter((s) => s.trainable).map((s) => s.name);
    if (grads.length !== names.length) throw new RangeError(`optimizer: ${grads.length} gradients for ${names.length} parameters`);
    this.step++;
    const beta1 = c.kind === 'sgd' ? c.momentum ?? 0.9 : c.beta1 ?? 0.9;
    const beta2 = c.beta2 ?? 0.999;
    const engine = this.params.engine;
    names.forEach((name, i) => {
      const param = this.params.get(name);
      const { groups, groupsX } = flatGrid(engine, param.size);
      const u = new Uniforms().u32(param.size, groupsX).f32(lr, beta1, beta2, c.eps ?? 1e-8, 1 - beta1 ** this.step, 1 - beta2 ** this.step, c.weightDecay ?? 0);
      const buffers = c.kind === 'sgd' ? [param, grads[i], this.m.get(name)!] : [param, grads[i], this.m.get(name)!, this.v.get(name)!];
      engine.dispatch(optimizerKernel(c.kind), buffers, u, groups);
    });
  }

  async state(): Promise<TensorMap> {
    const out: TensorMap = new Map();
    for (const [prefix, map] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, t] of map) out.set(`optimizer.${prefix}.${name}`, { dtype: 'f32', shape: [...t.shape], data: await t.read() });
    }
    out.set('optimizer.step', { dtype: 'f32', shape: [1], data: Float32Array.of(this.step) });
    return out;
  }

  restore(state: TensorMap): void {
    const engine = this.params.engine;
    for (const [prefix, map] of [['m', this.m], ['v', this.v]] as const) {
      for (const [name, t] of map) {
        const saved = state.get(`optimizer.${prefix}.${name}`);
        if (!saved) throw new Error(`checkpoint lacks optimizer state for ${name}`);
        map.set(name, engine.keep(fromArray(engine, toFloat32(saved), t.shape, `optimizer ${prefix}`)));
        t.dispose();
      }
    }
    this.step = toFloat32(state.get('optimizer.step')!)[0];
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
  }
}
