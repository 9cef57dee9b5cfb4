// Cancellation signals over Redis pub/sub: a fast, ephemeral nudge; Postgres stays the source of truth.
import type { Redis } from 'ioredis';
import { silentLogger, type QueueLogger } from './logger.ts';
import { DEFAULT_PREFIX, cancelChannel } from './names.ts';
import { CancelSignalSchema, type CancelSignal } from './payloads.ts';
import { assertPrefix, parsePayload } from './queues.ts';

export interface CancelChannelOptions {
  /** For publishing: any client. For subscribing: any client; a dedicated duplicate subscribes. */
  connection: Redis;
  prefix?: string;
}

/**
 * Publishes a cancellation. Returns how many subscribers received it; 0 is not an error, since a
 * worker that missed the signal still sees the cancellation in Postgres at its next check.
 */
export async function publishCancel(options: CancelChannelOptions, signal: CancelSignal): Promise<number> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  assertPrefix(prefix);
  const payload = parsePayload(CancelSignalSchema, signal, 'cancel signal');
  return options.connection.publish(cancelChannel(prefix), JSON.stringify(payload));
}

export interface CancelSubscription {
  close(): Promise<void>;
}

export interface SubscribeCancelsOptions extends CancelChannelOptions {
  handler: (signal: CancelSignal) => void;
  logger?: QueueLogger;
}

/**
 * Subscribes to cancellations on a duplicate of `connection` (a subscribed client can run no other
 * command). Resolves once Redis confirmed the subscription. Signals published while disconnected are
 * lost; ioredis re-subscribes on reconnect.
 */
export async function subscribeCancels(options: SubscribeCancelsOptions): Promise<CancelSubscription> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  assertPrefix(prefix);
  const logger = options.logger ?? silentLogger;
  const channel = cancelChannel(prefix);
  const subscriber = options.connection.duplicate({ connectionName: 'hypersweep-cancels', maxRetriesPerRequest: null });
  subscriber.on('error', (error: unknown) => logger.warn({ err: error }, 'cancel subscriber connection error'));
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    let signal: CancelSignal;
    try {
      signal = CancelSignalSchema.parse(JSON.parse(message));
    } catch (error) {
      logger.warn({ err: error, message }, 'ignoring malformed cancel signal');
      return;
    }
    try {
      options.handler(signal);
    } catch (error) {
      logger.error({ err: error, signal }, 'cancel handler threw');
    }
  });
  try {
    await subscriber.subscribe(channel);
  } catch (error) {
    subscriber.disconnect();
    throw error;
  }
  return {
    async close() {
      if (subscriber.status === 'end') return;
      await subscriber.quit();
    },
  };
}
