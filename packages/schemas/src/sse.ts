// An incremental text/event-stream parser (WHATWG HTML §9.2, "interpreting an event stream"),
// shared by the CLI and the dashboard. Browser-safe: no Node APIs. Both read the stream with fetch
// (EventSource cannot send an Authorization header) and feed the decoded chunks in here.

/** One dispatched event, named as the browser's MessageEvent names it. */
export interface SseMessage {
  /** The `event:` field; 'message' when the block had none. */
  readonly event: string;
  /** The `data:` lines joined with '\n'. */
  readonly data: string;
  /** The stream's last event id when the event was dispatched ('' if none was ever set). */
  readonly lastEventId: string;
}

const LF = 10;
const SPACE = 32;
const COLON = 58;
const BOM = 0xfeff;

/**
 * Feed it decoded text in chunks of any size (a chunk may end inside a line, inside a CRLF or inside
 * a field name) and it returns the events completed so far. Comments (lines starting with ':', used
 * as heartbeats) are counted and dispatch nothing. A block without data lines dispatches nothing
 * either, but its `id:` still becomes the last event id, as the spec says.
 */
export class SseParser {
  /** The server's `retry:` in milliseconds, when it sent one. */
  retryMs: number | undefined;
  /** Comment lines seen (heartbeats). */
  comments = 0;

  /** The spec's "last event ID string": set from the buffer below when a block is dispatched. */
  private committedId: string;
  /** The spec's "last event ID buffer": the latest `id:` line, committed at the next blank line. */
  private idBuffer: string;
  /** The unterminated line carried over from the previous chunk. */
  private buffer = '';
  /** The block's data lines joined so far; null until it has one (a `data` line may be empty). */
  private data: string | null = null;
  private event = '';
  /** A chunk has been seen since the stream (re)started: only the very first may begin with a BOM. */
  private started = false;
  /** The previous chunk ended in '\r': a '\n' starting the next one belongs to the same line break. */
  private pendingCr = false;

  constructor(lastEventId = '') {
    this.committedId = lastEventId;
    this.idBuffer = lastEventId;
  }

  /** The id of the last dispatched block, kept across blocks and reconnections: what Last-Event-ID sends. */
  get lastEventId(): string {
    return this.committedId;
  }
  set lastEventId(id: string) {
    this.committedId = id;
    this.idBuffer = id;
  }

  /** Parses a chunk; returns the events it completed, in order. */
  push(chunk: string): SseMessage[] {
    const out: SseMessage[] = [];
    if (chunk.length === 0) return out;
    let from = 0;
    if (!this.started) {
      this.started = true;
      if (chunk.charCodeAt(0) === BOM) from = 1;
    }
    if (this.pendingCr) {
      this.pendingCr = false;
      if (chunk.charCodeAt(from) === LF) from++;
    }
    const text = from === 0 ? chunk : chunk.slice(from);
    const buf = this.buffer.length === 0 ? text : this.buffer + text;
    const n = buf.length;

    // Line ends are found with indexOf (native, vectorised) rather than a loop over every
    // character: a replayed log is tens of megabytes. Each position is searched for again only
    // once it has been passed, so a stream without '\r' costs one scan for it per chunk.
    let start = 0;
    let lf = buf.indexOf('\n');
    let cr = buf.indexOf('\r');
    for (;;) {
      const lineStart = start;
      if (lf !== -1 && lf < start) lf = buf.indexOf('\n', start);
      if (cr !== -1 && cr < start) cr = buf.indexOf('\r', start);
      let end: number;
      if (cr === -1) {
        if (lf === -1) break;
        end = lf;
        start = lf + 1;
      } else if (lf !== -1 && lf < cr) {
        end = lf;
        start = lf + 1;
      } else {
        end = cr;
        if (cr + 1 < n) {
          start = buf.charCodeAt(cr + 1) === LF ? cr + 2 : cr + 1;
        } else {
          // A trailing CR: the line is complete, but its LF may start the next chunk.
          this.pendingCr = true;
          start = cr + 1;
        }
      }
      if (end === lineStart) {
        const message = this.dispatch();
        if (message) out.push(message);
      } else {
        this.field(buf, lineStart, end);
      }
    }
    this.buffer = start === 0 ? buf : buf.slice(start);
    return out;
  }

  /**
   * The connection closed: the incomplete block is discarded, its `id:` included, so a reconnection
   * sends the id of the last event actually received. The next chunk starts a new stream.
   */
  reset(): void {
    this.idBuffer = this.committedId;
    this.buffer = '';
    this.data = null;
    this.event = '';
    this.pendingCr = false;
    this.started = false;
  }

  /** Interprets the non-empty line buf[start, end), without copying it: only a value is sliced out. */
  private field(buf: string, start: number, end: number): void {
    if (buf.charCodeAt(start) === COLON) {
      this.comments++;
      return;
    }
    // The name runs to the first colon (or is the whole line); one space after the colon is not
    // part of the value. A loop, not indexOf: a line without a colon must not search on past its end.
    let colon = start;
    while (colon < end && buf.charCodeAt(colon) !== COLON) colon++;
    let valueStart = colon + 1;
    if (valueStart < end && buf.charCodeAt(valueStart) === SPACE) valueStart++;
    const nameLength = colon - start;
    // Field names are compared in place (a replay has ~170,000 of these lines); the data value is
    // the only string most lines cost.
    if (nameLength === 4 && buf.startsWith('data', start)) {
      const value = valueStart >= end ? '' : buf.slice(valueStart, end);
      this.data = this.data === null ? value : `${this.data}\n${value}`;
    } else if (nameLength === 5 && buf.startsWith('event', start)) {
      this.event = valueStart >= end ? '' : buf.slice(valueStart, end);
    } else if (nameLength === 2 && buf.startsWith('id', start)) {
      const value = valueStart >= end ? '' : buf.slice(valueStart, end);
      if (!value.includes('\0')) this.idBuffer = value;
    } else if (nameLength === 5 && buf.startsWith('retry', start)) {
      const value = valueStart >= end ? '' : buf.slice(valueStart, end);
      if (/^\d+$/.test(value)) this.retryMs = Number(value);
    }
    // Any other field is ignored.
  }

  /** A blank line: the block's id becomes the last event id, and a block with data is an event. */
  private dispatch(): SseMessage | undefined {
    this.committedId = this.idBuffer;
    const data = this.data;
    const event = this.event;
    this.data = null;
    this.event = '';
    if (data === null) return undefined;
    return { event: event === '' ? 'message' : event, data, lastEventId: this.committedId };
  }
}
