// Public API of @hypersweep/api, for tests and embedding: the app factory and its parts.
export { createApp } from './app.ts';
export { parseEnv, type ApiConfig } from './env.ts';
export { createAuthenticator, type Authenticator } from './auth.ts';
export { createEventHub, type EventHub } from './event-hub.ts';
export { ModelCache } from './models.ts';
export { ApiMetrics, type ClusterState } from './prometheus.ts';
export { startServer, type RunningApi } from './server.ts';
export { createJsonLogger, type Logger } from '@hypersweep/log';
export type { ApiDeps } from './deps.ts';
