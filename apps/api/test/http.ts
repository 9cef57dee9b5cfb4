// A plain HTTP/1.1 client for the fuzz tests: any method, path (already percent-encoded, so a
// malformed one goes out as it is), headers and body bytes; and raw bytes on a TCP socket for
// what no client library would send. No retries, nothing rewritten.
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

export interface RawRequest {
  method: string;
  /** Sent as written (percent-encoding included). */
  path: string;
  headers: Record<string, string>;
  body?: Uint8Array;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Empty for an event stream: its headers are read, then it is closed. */
  body: Buffer;
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

/** Sends one request to `base` (http://host:port) and reads the whole response. */
export function send(base: string, r: RawRequest, timeoutMs = 30_000): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    let settled = false;
    const headers: Record<string, string | number> = { ...r.headers };
    if (r.body !== undefined) headers['content-length'] = r.body.byteLength;
    const req = httpRequest({ host: url.hostname, port: url.port, method: r.method, path: r.path, headers, agent }, (res) => {
      const status = res.statusCode ?? 0;
      if (String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) {
        settled = true;
        resolve({ status, headers: res.headers, body: Buffer.alloc(0) });
        res.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        settled = true;
        resolve({ status, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', (e) => settled || reject(e));
    });
    // Once answered, a write error (the server stopped reading a refused body) changes nothing.
    req.on('error', (e) => settled || reject(e));
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms: ${r.method} ${r.path}`)));
    req.end(r.body === undefined ? undefined : Buffer.from(r.body));
  });
}

/** Writes `bytes` on a fresh connection and parses the one response that comes back. */
export function sendRaw(base: string, bytes: Uint8Array, timeoutMs = 30_000): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('no answer to raw bytes')), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e) => {
      clearTimeout(timer);
      // The server may reset after answering; what was read is the answer.
      if (chunks.length > 0) finish();
      else reject(e);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      finish();
    });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      const head = all.subarray(0, end < 0 ? all.length : end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head[0] ?? '')?.[1] ?? 0);
      const headers: IncomingHttpHeaders = {};
      for (const line of head.slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const length = Number(headers['content-length'] ?? NaN);
      const rest = end < 0 ? Buffer.alloc(0) : all.subarray(end + 4);
      resolve({ status, headers, body: Number.isFinite(length) ? rest.subarray(0, length) : rest });
    };
    socket.on('connect', () => socket.end(Buffer.from(bytes)));
  });
}

export function closeClient(): void {
  agent.destroy();
}
