import { describe, expect, it } from 'vitest';
import { SseParser } from './sse.ts';

describe('SseParser', () => {
  it('parses id, event and data, one message per blank line', () => {
    const p = new SseParser();
    const out = p.feed('id: 1\nevent: trial.epoch\ndata: {"a":1}\n\nid: 2\nevent: sweep.updated\ndata: {"b":2}\n\n');
    expect(out).toEqual([
      { event: 'trial.epoch', data: '{"a":1}', lastEventId: '1' },
      { event: 'sweep.updated', data: '{"b":2}', lastEventId: '2' },
    ]);
    expect(p.lastEventId).toBe('2');
  });

  it('reassembles messages split at any byte boundary, including inside \\r\\n', () => {
    const stream = 'id: 7\r\nevent: x\r\ndata: line one\r\ndata: line two\r\n\r\n: keep-alive\r\n\r\nid: 8\rdata: z\r\r';
    for (let cut = 0; cut <= stream.length; cut++) {
      const p = new SseParser();
      const out = [...p.feed(stream.slice(0, cut)), ...p.feed(stream.slice(cut))];
      expect(out).toEqual([
        { event: 'x', data: 'line one\nline two', lastEventId: '7' },
        { event: 'message', data: 'z', lastEventId: '8' },
      ]);
    }
  });

  it('feeds one character at a time', () => {
    const p = new SseParser();
    const out = [...'data: a\n\ndata:b\n\n'].flatMap((c) => p.feed(c));
    expect(out.map((m) => m.data)).toEqual(['a', 'b']);
  });

  it('ignores comments, unknown fields and messages without data; strips one leading space only', () => {
    const p = new SseParser();
    const out = p.feed(':comment\nfoo: bar\nevent: only\n\ndata:  two spaces\n\ndata\n\n');
    expect(out).toEqual([
      { event: 'message', data: ' two spaces', lastEventId: '' },
      { event: 'message', data: '', lastEventId: '' },
    ]);
  });

  it('keeps the last event id across messages, reads retry, ignores ids with NUL and a leading BOM', () => {
    const p = new SseParser('41');
    const out = p.feed('\ufeffretry: 2500\ndata: a\n\nid: 5\u00006\ndata: b\n\nretry: soon\n');
    expect(out.map((m) => m.lastEventId)).toEqual(['41', '41']);
    expect(p.retryMs).toBe(2500);
  });

  it('does not dispatch an unterminated message; reset discards it', () => {
    const p = new SseParser();
    expect(p.feed('data: partial')).toEqual([]);
    p.reset();
    expect(p.feed('\n\ndata: next\n\n')).toEqual([{ event: 'message', data: 'next', lastEventId: '' }]);
  });
});
