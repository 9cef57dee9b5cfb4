// The API process: env → startServer; SIGTERM drains requests and ends event streams.
import { fileURLToPath } from 'node:url';
import { createJsonLogger, onShutdownSignal } from '@hypersweep/log';
import { parseEnv } from './env.ts';
import { startServer } from './server.ts';

const config = parseEnv({ WEB_DIST: fileURLToPath(new URL('../../web/dist', import.meta.url)), ...process.env });
const logger = createJsonLogger({ level: config.logLevel, fields: { service: 'api' } });
const api = await startServer(config, logger);
onShutdownSignal({ logger, timeoutMs: config.shutdownTimeoutMs, message: 'shutting down: draining requests', done: 'api stopped', stop: () => api.close() });
