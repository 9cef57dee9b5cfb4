// Requests Node's HTTP parser refuses before Express sees them (headers over the 16 KiB limit,
// malformed request lines, header timeouts) get the API's JSON error body too, instead of Node's
// bare status line. Node hands them to the server's `clientError` event with the raw socket.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ApiError, ApiErrorCode } from '@hypersweep/schemas';

const REASONS: Record<number, string> = { 400: 'Bad Request', 405: 'Method Not Allowed', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/** The status, error code and detail of a parser error, by Node's error code. */
function classify(code: string | undefined): { status: number; code: ApiErrorCode; message: string; path: string } {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, code: 'headers_too_large', message: 'the request headers are larger than the server accepts (16 KiB)', path: 'headers' };
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { status: 408, code: 'request_timeout', message: 'the request was not received in time', path: 'request' };
    default:
      return { status: 400, code: 'invalid_request', message: 'the request is not valid HTTP', path: 'request' };
  }
}

/** The bytes of a whole HTTP/1.1 response with a JSON error body; the connection closes after it. */
export function clientErrorResponse(errorCode: string | undefined): string {
  return errorResponse(classify(errorCode));
}

function errorResponse(c: { status: number; code: ApiErrorCode; message: string; path: string }): string {
  const body: ApiError = { error: { code: c.code, message: c.message, details: [{ path: c.path, message: c.message }] } };
  const json = JSON.stringify(body);
  return [
    `HTTP/1.1 ${c.status} ${REASONS[c.status]}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(json)}`,
    'X-Content-Type-Options: nosniff',
    ...(c.status === 405 ? ['Allow: GET, HEAD, POST, PATCH, DELETE, OPTIONS'] : []),
    'Connection: close',
    '',
    json,
  ].join('\r\n');
}

/** The response a socket is writing, when the parser fails in the middle of a request (Node's own field). */
type ParsedSocket = Duplex & { _httpMessage?: { headersSent?: boolean } | null };

/**
 * Answers in the API's JSON what Node would answer itself, or not at all: a CONNECT (Node drops
 * the connection without a word), an Expect other than 100-continue (a bare 417); and sends
 * 100 Continue only to a request whose body is read.
 */
export function answerUnroutable(server: Server): void {
  // Expect: 100-continue. Node would send 100 at once; it goes out only when the app starts to
  // read the body, so a request refused on its headers (413, 401, 415) gets no invitation to send it.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    let invited = false;
    const invite = () => {
      if (invited || res.headersSent || res.writableEnded) return;
      invited = true;
      res.writeContinue();
    };
    req.once('resume', invite);
    req.on('newListener', (event: string | symbol) => (event === 'data' || event === 'readable') && invite());
    server.emit('request', req, res);
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.end(errorResponse({ status: 405, code: 'method_not_allowed', message: 'CONNECT is not served: the API is no proxy', path: 'method' }), () => socket.destroy());
  });
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const message = `Expect: ${String(req.headers.expect)} is not supported (only 100-continue)`;
    const body: ApiError = { error: { code: 'expectation_failed', message, details: [{ path: 'headers.expect', message }] } };
    const json = JSON.stringify(body);
    res.writeHead(417, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json), 'X-Content-Type-Options': 'nosniff', Connection: 'close' });
    res.end(json);
  });
}

export function answerClientErrors(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: ParsedSocket) => {
    // As Node's default handler: answer only when nothing of a response is on the wire yet (a
    // body that breaks the parser after its request was answered must not get a second one).
    if (error.code !== 'ECONNRESET' && socket.writable && !socket._httpMessage?.headersSent) {
      socket.end(clientErrorResponse(error.code), () => socket.destroy());
      return;
    }
    socket.destroy();
  });
}
