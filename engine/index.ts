// Public entry point of the engine.
export { Engine, Uniforms, type KernelSpec, type EngineStats, DeviceLostError } from './runtime.ts';
export { Tensor } from './tensor.ts';
export { valueAndGrad } from './autograd.ts';
export { listAdapters, preferredAdapter, acquireDevice, describeContext, NoAdapterError, type DeviceOptions } from './device.ts';
export * as ops from './ops/index.ts';
export { precompileAll } from './ops/index.ts';
