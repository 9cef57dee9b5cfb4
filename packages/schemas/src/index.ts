// Public API of @hypersweep/schemas: zod schemas (with inferred types) of every request,
// response and SSE event of the Hypersweep API, and the OpenAPI document built from them.
// Job payloads are not here: @hypersweep/queue owns them.
export * from './common.ts';
export * from './errors.ts';
export * from './sweep.ts';
export * from './kinds.ts';
export * from './ask-tell.ts';
export * from './bindings.ts';
export { cornersOf, type Corner } from './corners.ts';
export * from './trainable.ts';
export * from './responses.ts';
export * from './queries.ts';
export * from './events.ts';
export * from './openapi.ts';
