// The shared event-stream parser against the WHATWG rules, whole and at every chunk boundary.
import { describe, expect, it } from 'vitest';
import { formatSseEvent, type SweepEvent } from './events.ts';
import { SseParser, type SseMessage } from './sse.ts';

/** A stream exercising every rule: BOM, comments, retry, ids, event names, multi-line data, CRLF, lone CR, unknown fields. */
const STREAM = [
  '\uFEFF: hello, a heartbeat comment\n',
  'retry: 1500\n',
  '\n', // a blank line with nothing pending dispatches nothing
  'id: 1\nevent: sweep.updated\ndata: {"a":1}\n\n',
  'id: 2\r\nevent: trial.epoch\r\ndata: line one\r\ndata:line two\r\ndata:  two spaces\r\n\r\n',
  'id: 3\rdata: cr only\r\r',
  ':heartbeat\n',
  'data\n\n', // a field name without a colon: empty data
  'id: 7\n\n', // no data: nothing dispatched, but the id becomes the last event id
  'unknown: field\ndata: after unknown\n\n',
  'event: custom\ndata: x\nid: 8\n\n', // the id of the block counts for its own event, wherever it stands
  'retry: soon\n', // not digits: ignored
  'data: unterminated at the end', // no blank line: never dispatched
].join('');

const EXPECTED: SseMessage[] = [
  { lastEventId: '1', event: 'sweep.updated', data: '{"a":1}' },
  { lastEventId: '2', event: 'trial.epoch', data: 'line one\nline two\n two spaces' },
  { lastEventId: '3', event: 'message', data: 'cr only' },
  { lastEventId: '3', event: 'message', data: '' },
  { lastEventId: '7', event: 'message', data: 'after unknown' },
  { lastEventId: '8', event: 'custom', data: 'x' },
];

function parseInChunks(chunks: string[], parser = new SseParser()): { messages: SseMessage[]; parser: SseParser } {
  const messages = chunks.flatMap((c) => parser.push(c));
  return { messages, parser };
}

describe('SseParser', () => {
  it('parses a whole stream: ids, event names, multi-line data, comments, retry, every line ending', () => {
    const { messages, parser } = parseInChunks([STREAM]);
    expect(messages).toEqual(EXPECTED);
    expect(parser.lastEventId).toBe('8');
    expect(parser.retryMs).toBe(1500);
    expect(parser.comments).toBe(2);
  });

  it('parses id, event and data, one message per blank line', () => {
    const p = new SseParser();
    const out = p.push('id: 1\nevent: trial.epoch\ndata: {"a":1}\n\nid: 2\nevent: sweep.updated\ndata: {"b":2}\n\n');
    expect(out).toEqual([
      { event: 'trial.epoch', data: '{"a":1}', lastEventId: '1' },
      { event: 'sweep.updated', data: '{"b":2}', lastEventId: '2' },
    ]);
    expect(p.lastEventId).toBe('2');
  });

  it('gives the same events and state for a split at every position', () => {
    for (let i = 0; i <= STREAM.length; i++) {
      const { messages, parser } = parseInChunks([STREAM.slice(0, i), STREAM.slice(i)]);
      expect(messages, `split at ${i}`).toEqual(EXPECTED);
      expect(parser.lastEventId, `split at ${i}`).toBe('8');
      expect(parser.retryMs, `split at ${i}`).toBe(1500);
      expect(parser.comments, `split at ${i}`).toBe(2);
    }
  });

  it('reassembles messages split at any boundary, including inside \\r\\n', () => {
    const stream = 'id: 7\r\nevent: x\r\ndata: line one\r\ndata: line two\r\n\r\n: keep-alive\r\n\r\nid: 8\rdata: z\r\r';
    for (let cut = 0; cut <= stream.length; cut++) {
      const { messages } = parseInChunks([stream.slice(0, cut), stream.slice(cut)]);
      expect(messages, `split at ${cut}`).toEqual([
        { event: 'x', data: 'line one\nline two', lastEventId: '7' },
        { event: 'message', data: 'z', lastEventId: '8' },
      ]);
    }
  });

  it('gives the same events for every pair of split positions and for one character at a time', () => {
    for (let i = 0; i <= STREAM.length; i += 3) {
      for (let j = i; j <= STREAM.length; j += 5) {
        const { messages } = parseInChunks([STREAM.slice(0, i), STREAM.slice(i, j), STREAM.slice(j)]);
        expect(messages, `split at ${i} and ${j}`).toEqual(EXPECTED);
      }
    }
    expect(parseInChunks(Array.from(STREAM)).messages).toEqual(EXPECTED);
    expect(parseInChunks([...'data: a\n\ndata:b\n\n']).messages.map((m) => m.data)).toEqual(['a', 'b']);
  });

  it('gives the events of formatSseEvent back at every split of a replayed log', () => {
    const SWEEP_ID = '6f1c1f2e-8a43-4d59-9a41-0c0a6c3b7f10';
    const events: SweepEvent[] = [1, 2, 3].map((id) => ({
      id,
      type: 'trial.epoch',
      sweepId: SWEEP_ID,
      at: '2026-01-01T00:00:00.000Z',
      data: { trialId: '00000000-0000-4000-8000-000000000001', number: 0, epoch: id, metrics: { val_loss: 1 / id } },
    }));
    const log = 'retry: 2000\n\n' + events.map(formatSseEvent).join(': ping\n\n');
    const expected = events.map((e) => ({ event: e.type, data: JSON.stringify(e), lastEventId: String(e.id) }));
    for (let i = 0; i <= log.length; i++) {
      expect(parseInChunks([log.slice(0, i), log.slice(i)]).messages, `split at ${i}`).toEqual(expected);
    }
  });

  it('treats a CR at the end of a chunk and a LF at the start of the next as one line break', () => {
    const { messages } = parseInChunks(['data: a\r', '\n', '\r', '\ndata: b\r\n\r\n']);
    expect(messages).toEqual([
      { lastEventId: '', event: 'message', data: 'a' },
      { lastEventId: '', event: 'message', data: 'b' },
    ]);
  });

  it('ignores comments, unknown fields and blocks without data; strips one leading space only', () => {
    const p = new SseParser();
    const out = p.push(':comment\nfoo: bar\nevent: only\n\ndata:  two spaces\n\ndata\n\n');
    expect(out).toEqual([
      { event: 'message', data: ' two spaces', lastEventId: '' },
      { event: 'message', data: '', lastEventId: '' },
    ]);
    expect(p.comments).toBe(1);
  });

  it('takes field names exactly: no case folding, no trailing space, a colon in the value is data', () => {
    const out = new SseParser().push('Data: no\ndata : no\nevent:\ndata:a:b: c\n\n');
    expect(out).toEqual([{ event: 'message', data: 'a:b: c', lastEventId: '' }]);
  });

  it('keeps a starting last event id across messages, reads retry, ignores a leading BOM and a non-digit retry', () => {
    const p = new SseParser('41');
    const out = p.push('\ufeffretry: 2500\ndata: a\n\nid: 5\u00006\ndata: b\n\nretry: soon\nretry: -1\nretry: 1.5\nretry:\n');
    expect(out.map((m) => m.lastEventId)).toEqual(['41', '41']);
    expect(p.lastEventId).toBe('41');
    expect(p.retryMs).toBe(2500);
  });

  it('strips a BOM only at the start of the stream, even in a chunk of its own', () => {
    const p = new SseParser();
    expect(p.push('\ufeff')).toEqual([]);
    expect(p.push('data: a\n\n')).toEqual([{ event: 'message', data: 'a', lastEventId: '' }]);
    // Later, U+FEFF is an ordinary character: here it is part of an unknown field's name.
    expect(p.push('\ufeffdata: b\n\n')).toEqual([]);
  });

  it('ignores an id containing NUL, keeping the previous one', () => {
    const parser = new SseParser();
    parser.push('id: 1\n\nid: 2\u0000x\ndata: d\n\n');
    expect(parser.lastEventId).toBe('1');
  });

  it('commits an id when its block is dispatched, not when the line arrives; an id-only block still commits', () => {
    const p = new SseParser();
    expect(p.push('id: 1\ndata: one\n\nid: 2\n')).toHaveLength(1);
    expect(p.lastEventId).toBe('1'); // the block with id 2 is not complete yet
    expect(p.push('\n')).toEqual([]); // an id-only block: no event, but the id is now the last one
    expect(p.lastEventId).toBe('2');
    expect(p.push('data: after\n\n')).toEqual([{ event: 'message', data: 'after', lastEventId: '2' }]);
    expect(p.push('id\n\n')).toEqual([]); // an empty id resets the last event id
    expect(p.lastEventId).toBe('');
  });

  it('does not dispatch an unterminated message; reset discards it', () => {
    const p = new SseParser();
    expect(p.push('data: partial')).toEqual([]);
    p.reset();
    expect(p.push('\n\ndata: next\n\n')).toEqual([{ event: 'message', data: 'next', lastEventId: '' }]);
  });

  it('drops an incomplete block on reset but keeps the last event id', () => {
    const parser = new SseParser();
    expect(parser.push('id: 4\ndata: {"complete":true}\n\nid: 5\ndata: {"cut')).toHaveLength(1);
    parser.reset();
    expect(parser.lastEventId).toBe('4');
    // The next stream's opening blank line must not commit the discarded id 5.
    expect(parser.push('retry: 2000\n\n')).toEqual([]);
    expect(parser.lastEventId).toBe('4');
    expect(parser.push('id: 5\ndata: whole\n\n')).toEqual([{ lastEventId: '5', event: 'message', data: 'whole' }]);
  });

  it('starts a new stream after reset: a BOM at its start is stripped again', () => {
    const p = new SseParser();
    expect(p.push('data: a\r')).toEqual([]);
    p.reset();
    expect(p.push('\ufeff\ndata: b\n\n')).toEqual([{ event: 'message', data: 'b', lastEventId: '' }]);
  });

  it('can be given the last event id to resume from', () => {
    const p = new SseParser();
    p.lastEventId = '9';
    expect(p.push('data: x\n\n')).toEqual([{ event: 'message', data: 'x', lastEventId: '9' }]);
    expect(p.push('data: y\n')).toEqual([]);
    p.reset();
    expect(p.lastEventId).toBe('9');
  });
});
