// A process whose stop() leaves a handle open (an interval), as a leaked stream's ping once did.
import { createJsonLogger, onShutdownSignal } from '../src/index.ts';

const logger = createJsonLogger({ level: 'info', fields: { service: 'lingering' } });
setInterval(() => undefined, 1_000);
onShutdownSignal({ logger, timeoutMs: 60_000, message: 'stopping', done: 'stopped', stop: async () => undefined });
logger.info({}, 'ready');
