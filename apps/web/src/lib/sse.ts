// An incremental text/event-stream parser (the WHATWG "server-sent events" interpretation rules),
// fed with decoded chunks as they arrive from a fetch body. EventSource cannot send an
// Authorization header, so the dashboard reads the stream with fetch and parses it here.

export interface SseMessage {
  /** The `event` field, "message" when absent. */
  readonly event: string;
  /** The `data` lines joined with "\n". */
  readonly data: string;
  /** The last event id in force when the message was dispatched ("" when none was ever set). */
  readonly lastEventId: string;
}

export class SseParser {
  private buffer = '';
  /** A chunk ended on "\r": a "\n" starting the next chunk belongs to the same line break. */
  private pendingCr = false;
  private started = false;
  private data: string[] = [];
  private event = '';
  private hasData = false;
  /** Persists across messages, as the spec's "last event ID buffer". */
  lastEventId = '';
  /** The reconnection time the server asked for, in ms. */
  retryMs: number | undefined;

  constructor(lastEventId = '') {
    this.lastEventId = lastEventId;
  }

  /** Parses a chunk; returns the messages it completed. */
  feed(chunk: string): SseMessage[] {
    let text = chunk;
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    this.buffer += text;

    const out: SseMessage[] = [];
    const buf = this.buffer;
    const n = buf.length;
    let start = 0;
    // Line ends are found with indexOf (native, vectorised) rather than a loop over every character:
    // a replayed log is tens of megabytes. A position is searched for again only once it has been
    // passed, so a stream without "\r" costs one scan for it.
    let lf = buf.indexOf('\n');
    let cr = buf.indexOf('\r');
    for (;;) {
      if (lf !== -1 && lf < start) lf = buf.indexOf('\n', start);
      if (cr !== -1 && cr < start) cr = buf.indexOf('\r', start);
      if (lf === -1 && cr === -1) break;
      const lineStart = start;
      let end: number;
      if (cr === -1 || (lf !== -1 && lf < cr)) {
        end = lf;
        start = lf + 1;
      } else {
        end = cr;
        if (cr + 1 < n) start = buf.charCodeAt(cr + 1) === 10 ? cr + 2 : cr + 1;
        else {
          this.pendingCr = true;
          start = cr + 1;
        }
      }
      const message = this.line(buf.slice(lineStart, end));
      if (message) out.push(message);
    }
    this.buffer = start === 0 ? buf : buf.slice(start);
    return out;
  }

  /** Ends the stream: an unterminated last message is discarded, as the spec says. */
  reset(): void {
    this.buffer = '';
    this.pendingCr = false;
    this.data = [];
    this.event = '';
    this.hasData = false;
  }

  private line(line: string): SseMessage | undefined {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return undefined; // a comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.data.push(value);
        this.hasData = true;
        break;
      case 'event':
        this.event = value;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
    return undefined;
  }

  private dispatch(): SseMessage | undefined {
    const hadData = this.hasData;
    const message: SseMessage = { event: this.event || 'message', data: this.data.join('\n'), lastEventId: this.lastEventId };
    this.data = [];
    this.event = '';
    this.hasData = false;
    return hadData ? message : undefined;
  }
}
