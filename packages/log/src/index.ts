// A small JSON-lines logger with scoped children (fields such as sweepId and trialId ride along).
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  child(fields: object): Logger;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Errors do not serialise with JSON.stringify; keep their name, message and code. */
function plain(fields: object): object {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] =
      value instanceof Error
        ? { name: value.name, message: value.message, ...('code' in value ? { code: (value as { code: unknown }).code } : {}) }
        : value;
  }
  return out;
}

export function createJsonLogger(
  options: { level?: LogLevel; write?: (line: string) => void; fields?: object } = {},
): Logger {
  const min = RANK[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const base = options.fields ?? {};
  const log = (level: LogLevel) => (fields: object, message: string) => {
    if (RANK[level] < min) return;
    write(JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...base, ...plain(fields) }));
  };
  return {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: (fields) => createJsonLogger({ ...options, fields: { ...base, ...fields } }),
  };
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};

export interface ShutdownOptions {
  logger: Logger;
  /** After this long the process exits with code 1, whatever is still pending. */
  timeoutMs: number;
  /** Logged when the first signal arrives, e.g. "shutting down: draining requests". */
  message: string;
  /** Logged once `stop` resolved. */
  done: string;
  stop: () => Promise<void>;
}

/**
 * Runs `stop` once on the first SIGTERM or SIGINT, bounded by a timeout; a failure sets exit code
 * 1. The api and worker processes share this, so both drain the same way.
 */
export function onShutdownSignal(options: ShutdownOptions): void {
  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const { logger } = options;
    logger.info({ signal }, options.message);
    const timeout = setTimeout(() => {
      logger.error({ timeoutMs: options.timeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, options.timeoutMs);
    timeout.unref();
    try {
      await options.stop();
      logger.info({}, options.done);
    } catch (error) {
      logger.error({ err: error }, 'error during shutdown');
      process.exitCode = 1;
    } finally {
      clearTimeout(timeout);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
