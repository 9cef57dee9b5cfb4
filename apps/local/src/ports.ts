// TCP ports: a free one on 127.0.0.1 (the OS picks it; it stays free unless someone races us to
// it), and whether a given one is taken.
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Whether something already listens on host:port: binding it fails with EADDRINUSE. Other bind
 * errors (EACCES below 1024, an address this machine lacks) are thrown. Port 0 is never taken.
 */
export async function portTaken(host: string, port: number): Promise<boolean> {
  if (port === 0) return false;
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => (error.code === 'EADDRINUSE' ? resolve(true) : reject(error)));
    server.listen(port, host, () => server.close(() => resolve(false)));
  });
}
