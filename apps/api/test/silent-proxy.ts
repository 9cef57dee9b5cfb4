// A TCP proxy to a real server that can go silent: connections stay open but nothing passes
// either way, as in a network partition that drops packets (no reset, no refusal).
import { connect, createServer, type Socket } from 'node:net';

export interface SilentProxy {
  /** 127.0.0.1 port that forwards to the target. */
  readonly port: number;
  /** Stop passing bytes on every connection, open or new. */
  silence(): void;
  /** Pass bytes again, including what was held back. */
  restore(): void;
  close(): Promise<void>;
}

/** `listenPort`: the proxy's own port (default: any free one). */
export async function startSilentProxy(targetPort: number, targetHost = '127.0.0.1', listenPort = 0): Promise<SilentProxy> {
  let silent = false;
  const pairs = new Set<[Socket, Socket]>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    client.pipe(upstream);
    upstream.pipe(client);
    // After pipe(), which resumes its source.
    if (silent) {
      client.pause();
      upstream.pause();
    }
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    silence() {
      silent = true;
      for (const [a, b] of pairs) {
        a.pause();
        b.pause();
      }
    },
    restore() {
      silent = false;
      for (const [a, b] of pairs) {
        a.resume();
        b.resume();
      }
    },
    async close() {
      for (const [a, b] of pairs) {
        a.destroy();
        b.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
