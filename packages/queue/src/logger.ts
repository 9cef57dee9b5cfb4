// The logging interface this package takes (pino-compatible); it never writes to the console itself.

export interface QueueLogger {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export const silentLogger: QueueLogger = {
  warn: () => undefined,
  error: () => undefined,
};
