// A node:http server for the client's tests: it records every request (method, path, query,
// headers, raw body) and answers with what the test's handler returns. No API behind it: the
// tests check what the client sends and how it reads answers.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import { HypersweepClient } from '../src/client.ts';

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingMessage['headers'];
  readonly body: Buffer;
}

/** An answer: JSON (with a status), or a raw handler for streams and odd bodies. */
export type Answer = { status?: number; json?: unknown; text?: string; headers?: Record<string, string> } | ((res: ServerResponse, req: RecordedRequest) => void);

export interface RecordingServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startRecordingServer(handle: (req: RecordedRequest) => Answer): Promise<RecordingServer> {
  const requests: RecordedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const recorded: RecordedRequest = { method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(recorded);
      const answer = handle(recorded);
      if (typeof answer === 'function') return answer(res, recorded);
      const body = answer.text ?? (answer.json === undefined ? '' : JSON.stringify(answer.json));
      res.writeHead(answer.status ?? 200, { ...(answer.json !== undefined ? { 'Content-Type': 'application/json' } : {}), ...answer.headers });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The request's body as JSON. */
export function jsonOf(req: RecordedRequest): unknown {
  return JSON.parse(req.body.toString('utf8')) as unknown;
}

/**
 * Clients of recording servers, one per `serve` (the last one closed after each test): `serve(handle)`
 * gives a client of a new server with token `hs_test`; `requests()` what that server recorded.
 */
export function recordingClients(): {
  serve(handle: (req: RecordedRequest) => Answer, onUnauthorized?: () => void): Promise<HypersweepClient>;
  requests(): RecordedRequest[];
} {
  let server: RecordingServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  return {
    async serve(handle, onUnauthorized) {
      server = await startRecordingServer(handle);
      return new HypersweepClient({ baseUrl: server.url, token: 'hs_test', ...(onUnauthorized ? { onUnauthorized } : {}) });
    },
    requests: () => server?.requests ?? [],
  };
}
