// The API process: env → startServer; SIGTERM drains requests and ends event streams.
import { fileURLToPath } from 'node:url';
import { parseEnv } from './env.ts';
import { createJsonLogger } from '@hypersweep/log';
import { startServer } from './server.ts';

const config = parseEnv({ WEB_DIST: fileURLToPath(new URL('../../web/dist', import.meta.url)), ...process.env });
const logger = createJsonLogger({ level: config.logLevel, fields: { service: 'api' } });
const api = await startServer(config, logger);

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down: draining requests');
  const timeout = setTimeout(() => {
    logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs);
  timeout.unref();
  try {
    await api.close();
    logger.info({}, 'api stopped');
  } catch (error) {
    logger.error({ err: error }, 'error during shutdown');
    process.exitCode = 1;
  } finally {
    clearTimeout(timeout);
  }
}
process.once('SIGTERM', () => void shutdown('SIGTERM'));
process.once('SIGINT', () => void shutdown('SIGINT'));
