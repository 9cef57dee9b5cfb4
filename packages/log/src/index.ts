// JSON-lines logging on pino, with scoped children (fields such as sweepId and trialId ride along),
// error stacks, and redaction: no token or password reaches a log line, under a key or in a string.
import { pino, stdSerializers, stdTimeFunctions, type DestinationStream, type LogFn, type Logger as PinoLogger } from 'pino';
import { REDACT_PATHS, CENSOR, scrub, scrubString } from './redact.ts';

export { CENSOR, REDACT_PATHS, scrub, scrubString } from './redact.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The part of pino's logger the code uses: a merging object first, then the message. */
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
  child(fields: object): Logger;
}

export interface JsonLoggerOptions {
  level?: LogLevel;
  /** Receives each record as one JSON line without its newline; stdout when absent. */
  write?: (line: string) => void;
  /** Fields on every record (e.g. `service`, `workerId`). */
  fields?: object;
}

/** `err` and `error` hold errors by convention: pino's serializer keeps type, message, stack and own fields. */
function serializeError(value: unknown): unknown {
  return value instanceof Error ? scrub({ ...stdSerializers.err(value) }) : value;
}

export function createJsonLogger(options: JsonLoggerOptions = {}): Logger {
  const { write } = options;
  const destination: DestinationStream | undefined = write ? { write: (chunk: string) => write(chunk.endsWith('\n') ? chunk.slice(0, -1) : chunk) } : undefined;
  const logger = pino(
    {
      level: options.level ?? 'info',
      base: { ...options.fields },
      timestamp: stdTimeFunctions.isoTime,
      serializers: { err: serializeError, error: serializeError },
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      formatters: {
        level: (label) => ({ level: label }),
        // pino's redaction only knows paths: fields and bindings are walked for secrets in strings too.
        bindings: (bindings) => scrub(bindings) as Record<string, unknown>,
        log: (record) => scrub(record) as Record<string, unknown>,
      },
      hooks: {
        // The message (and any printf-style argument) is not part of the record the formatter sees.
        logMethod(args, method) {
          const clean = args.map((arg: unknown) => (typeof arg === 'string' ? scrubString(arg) : arg)) as Parameters<LogFn>;
          method.apply(this, clean);
        },
      },
    },
    destination,
  );
  return scoped(logger);
}

/** pino runs its bindings formatter on the root's fields only: a child's fields are scrubbed here. */
function scoped(logger: PinoLogger): Logger {
  return {
    debug: (fields, message) => logger.debug(fields, message),
    info: (fields, message) => logger.info(fields, message),
    warn: (fields, message) => logger.warn(fields, message),
    error: (fields, message) => logger.error(fields, message),
    child: (fields) => scoped(logger.child(scrub(fields) as Record<string, unknown>)),
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

/** How long a stopped process may take to exit by itself (stdout flushing, sockets closing). */
const LINGER_MS = 1_000;

/**
 * Runs `stop` once on the first SIGTERM or SIGINT, bounded by a timeout; a failure sets exit code
 * 1. The api and worker processes share this, so both drain the same way. Once `stop` is done the
 * process exits even if a handle (a socket, a timer) is still open: a drain that left something
 * behind must not keep a stopped process alive.
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
    // Unref'd: a process with nothing left open exits on its own, as before.
    setTimeout(() => {
      logger.warn({ lingerMs: LINGER_MS }, 'handles still open after shutdown; exiting');
      process.exit();
    }, LINGER_MS).unref();
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}
