// Public API of @hypersweep/search: pure, seeded ask/tell search (no I/O).
export * from './types.ts';
export * from './space.ts';
export * from './samplers/index.ts';
export * from './schedulers/index.ts';
export * from './budget.ts';
export * from './verdict.ts';
