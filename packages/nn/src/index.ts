// Public API of @hypersweep/nn: a pure training engine that runs in Node and in the browser.
export * from './data.ts';
export * from './errors.ts';
export * from './kernels/index.ts';
export * from './rng.ts';
export * from './spec.ts';
export * from './model.ts';
export * from './memory.ts';
export * from './replica.ts';
export * from './optimizer.ts';
export * from './schedule.ts';
export * from './init.ts';
export * from './compat.ts';
export * from './checkpoint.ts';
export * from './train.ts';
export * from './tfjs.ts';
export * from './inference.ts';
export * from './backend.ts';
