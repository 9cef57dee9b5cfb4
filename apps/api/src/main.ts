// The API process: env → startServer; SIGTERM drains requests and ends event streams.
import { fileURLToPath } from 'node:url';
import { createJsonLogger, onShutdownSignal } from '@hypersweep/log';
import { parseEnv } from './env.ts';
import { startServer } from './server.ts';

const config = parseEnv({ WEB_DIST: fileURLToPath(new URL('../../web/dist', import.meta.url)), ...process.env });
const logger = createJsonLogger({ level: config.logLevel, fields: { service: 'api' } });
const api = await startServer(config, logger).catch((error: unknown) => {
  // A port in use or an address this machine lacks: one clear line instead of a stack trace.
  const { code, syscall } = error as NodeJS.ErrnoException;
  if (syscall !== 'listen' || (code !== 'EADDRINUSE' && code !== 'EADDRNOTAVAIL' && code !== 'EACCES')) throw error;
  logger.error({ host: config.host, port: config.port, code }, `cannot listen on ${config.host}:${config.port} (${code}); set HOST and PORT to a free address`);
  process.exit(1);
});
onShutdownSignal({ logger, timeoutMs: config.shutdownTimeoutMs, message: 'shutting down: draining requests', done: 'api stopped', stop: () => api.close() });
