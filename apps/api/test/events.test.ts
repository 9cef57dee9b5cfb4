// GET /sweeps/:id/events ends for a finished sweep: the replay ends the response, a resumption at
// the end gets 204, and a live stream ends when its sweep finishes. Real Postgres, real NOTIFY.
import { connect } from 'node:net';
import { cancelSweep, claimTrial, createTrial, recordEpoch, recordTestResult, setSweepStatus, sweepEventsAfter } from '@hypersweep/db';
import { sleepUntil } from '@hypersweep/queue/testing';
import { ApiError, Sweep } from '@hypersweep/schemas';
import { SseParser } from '@hypersweep/schemas/sse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spiralsSweep } from './fixtures.ts';
import { startTestApi, type TestApi } from './harness.ts';

/** A stream that never ends fails the test at this deadline instead of hanging it. */
const STREAM_DEADLINE_MS = 20_000;

/** Reads an event stream as it arrives: the events so far, and whether the server ended the response. */
function streamReader(res: Response) {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  const events: { id: number; type: string; data: { status?: string } }[] = [];
  let ended = false;
  const readOnce = async (): Promise<boolean> => {
    const { value, done } = await reader.read();
    if (done) {
      ended = true;
      return false;
    }
    for (const m of parser.push(value)) events.push({ id: Number(m.lastEventId), type: m.event, data: (JSON.parse(m.data) as { data: { status?: string } }).data });
    return true;
  };
  return {
    events,
    ids: () => events.map((e) => e.id),
    get ended() {
      return ended;
    },
    /** Reads until `condition` holds; false if the stream ended first. */
    async until(condition: () => boolean): Promise<boolean> {
      while (!condition()) if (!(await readOnce())) return false;
      return true;
    },
    async toEnd(): Promise<void> {
      while (await readOnce());
    },
  };
}

describe('the event stream of a finished sweep', () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });
  afterAll(async () => {
    await t?.close();
  });

  const openStream = (sweepId: string, headers: Record<string, string> = {}, query = '') =>
    t.request(`/api/v1/sweeps/${sweepId}/events${query}`, { headers, signal: AbortSignal.timeout(STREAM_DEADLINE_MS) });

  /** A sweep with a trial that ran two epochs, then finished through `finish`. */
  async function finishedSweep(name: string, finish: (sweepId: string) => Promise<unknown>): Promise<{ sweep: Sweep; ids: number[] }> {
    const sweep = Sweep.parse(await (await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep(name) })).json());
    await setSweepStatus(t.db, sweep.id, 'running');
    const trial = await createTrial(t.db, sweep.id, { params: { learningRate: 0.01 } });
    await claimTrial(t.db, trial.id, 'w');
    for (let epoch = 1; epoch <= 2; epoch++) await recordEpoch(t.db, trial.id, epoch, { val_accuracy: epoch / 10 });
    await finish(sweep.id);
    return { sweep, ids: (await sweepEventsAfter(t.db, sweep.id, 0)).map((e) => e.id) };
  }

  it('replays the whole log of a finished sweep without Last-Event-ID, then ends the response', async () => {
    const { sweep, ids } = await finishedSweep('replayed', (id) => setSweepStatus(t.db, id, 'completed'));
    const res = await openStream(sweep.id);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const stream = streamReader(res);
    await stream.toEnd();
    expect(stream.ended).toBe(true);
    expect(stream.ids()).toEqual(ids);
    expect(stream.events.at(-1)).toMatchObject({ type: 'sweep.updated', data: { status: 'completed' } });
  });

  it('answers 204 to a resumption at or after the last event, and replays the rest of an earlier one then ends', async () => {
    const { sweep, ids } = await finishedSweep('resumed', (id) => cancelSweep(t.db, id));
    const last = ids.at(-1)!;
    for (const [headers, query] of [
      [{ 'last-event-id': String(last) }, ''],
      [{ 'last-event-id': String(last + 5) }, ''],
      [{}, `?lastEventId=${last}`],
    ] as const) {
      const res = await openStream(sweep.id, headers, query);
      expect(res.status, JSON.stringify({ headers, query })).toBe(204);
      expect(await res.text()).toBe('');
    }
    const res = await openStream(sweep.id, { 'last-event-id': String(ids[1]) });
    expect(res.status).toBe(200);
    const stream = streamReader(res);
    await stream.toEnd();
    expect(stream.ids()).toEqual(ids.slice(2));
    // A running sweep resumed at its last event is not over: 200, and the stream stays open.
    const running = Sweep.parse(await (await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep('still running') })).json());
    await setSweepStatus(t.db, running.id, 'running');
    const lastOfRunning = (await sweepEventsAfter(t.db, running.id, 0)).at(-1)!.id;
    const controller = new AbortController();
    const open = await t.request(`/api/v1/sweeps/${running.id}/events`, { headers: { 'last-event-id': String(lastOfRunning) }, signal: controller.signal });
    expect(open.status).toBe(200);
    controller.abort();
    // Past its last event, it would skip the ids in between when they come (a 200 once did): refused.
    for (const [headers, query, path] of [
      [{ 'last-event-id': String(lastOfRunning + 5) }, '', 'headers.Last-Event-ID'],
      [{}, `?lastEventId=${lastOfRunning + 1}`, 'lastEventId'],
    ] as const) {
      const ahead = await openStream(running.id, headers, query);
      expect(ahead.status, path).toBe(400);
      expect(ApiError.parse(await ahead.json()).error.details[0]?.path).toBe(path);
    }
  });

  it('sends events appended after the terminal one on the next resumption, then 204 once there is nothing more', async () => {
    const { sweep, ids } = await finishedSweep('late result', (id) => setSweepStatus(t.db, id, 'completed'));
    // The best trial's test result comes after the sweep completed, as its own sweep.updated.
    await recordTestResult(t.db, sweep.id, { trialId: '00000000-0000-4000-8000-000000000000', metrics: { test_accuracy: 0.9 } });
    const late = (await sweepEventsAfter(t.db, sweep.id, ids.at(-1)!)).map((e) => e.id);
    expect(late).toHaveLength(1);
    const res = await openStream(sweep.id, { 'last-event-id': String(ids.at(-1)) });
    expect(res.status).toBe(200);
    const stream = streamReader(res);
    await stream.toEnd();
    expect(stream.ids()).toEqual(late);
    expect((await openStream(sweep.id, { 'last-event-id': String(late[0]) })).status).toBe(204);
  });

  /** Sends `request` on a raw connection; resolves with what the server sent until it closed or `closeAfterMs`. */
  function rawExchange(request: string, closeAfterMs: number | null): Promise<string> {
    const { port } = new URL(t.url);
    return new Promise((resolve, reject) => {
      let received = '';
      const socket = connect(Number(port), '127.0.0.1', () => socket.write(request));
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (received += chunk));
      socket.on('error', reject);
      socket.on('close', () => resolve(received));
      if (closeAfterMs !== null) setTimeout(() => socket.destroy(), closeAfterMs);
    });
  }

  it('lets go of a stream whose client leaves at any moment, a request with a body included, and answers HEAD without a stream', async () => {
    const sweep = Sweep.parse(await (await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep('left early') })).json());
    await setSweepStatus(t.db, sweep.id, 'running');
    const head = `/api/v1/sweeps/${sweep.id}/events`;
    const auth = `Authorization: Bearer ${t.token}\r\nHost: 127.0.0.1\r\n`;
    // A JSON body ends the request's own 'close' before the route runs (streams leaked so once),
    // and a client may leave before the sweep is read, during the replay or after it.
    const leavers = Array.from({ length: 24 }, (_, i) =>
      rawExchange(`GET ${head} HTTP/1.1\r\n${auth}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`, i % 4 === 0 ? 0 : i * 5),
    );
    await Promise.all(leavers);
    // And one that leaves only once its stream is open, so the route surely ran before the close.
    const { port } = new URL(t.url);
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(`GET ${head} HTTP/1.1\r\n${auth}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`));
    socket.on('error', () => undefined);
    await sleepUntil(() => t.api.deps.streams.size === 1, { what: 'the stream to open' });
    socket.destroy();
    await sleepUntil(() => t.api.deps.streams.size === 0 && t.api.deps.hub.subscribers === 0, { what: 'every stream to be released' });
    expect(t.api.deps.streams.size).toBe(0);

    // HEAD gets the headers and an ended response: a request pipelined after it is answered.
    const answer = await rawExchange(`HEAD ${head} HTTP/1.1\r\n${auth}\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`, null);
    expect(answer).toMatch(/^HTTP\/1\.1 200 [^]*content-type: text\/event-stream[^]*\r\n\r\nHTTP\/1\.1 200 /i);
    expect(t.api.deps.streams.size).toBe(0);
  });

  for (const [how, finish] of [
    ['cancelled', (id: string) => cancelSweep(t.db, id)],
    ['completed', (id: string) => setSweepStatus(t.db, id, 'completed')],
  ] as const) {
    it(`keeps a running sweep's stream open after it caught up, and ends it once the sweep is ${how}`, async () => {
      const sweep = Sweep.parse(await (await t.request('/api/v1/sweeps', { method: 'POST', json: spiralsSweep(`live ${how}`) })).json());
      await setSweepStatus(t.db, sweep.id, 'running');
      const trial = await createTrial(t.db, sweep.id, { params: { learningRate: 0.01 } });
      const head = (await sweepEventsAfter(t.db, sweep.id, 0)).map((e) => e.id);
      const res = await openStream(sweep.id);
      expect(res.status).toBe(200);
      const stream = streamReader(res);
      expect(await stream.until(() => stream.ids().at(-1) === head.at(-1))).toBe(true);
      // Caught up and still open: an event written now arrives on the same response.
      await claimTrial(t.db, trial.id, 'w');
      expect(await stream.until(() => stream.events.some((e) => e.type === 'trial.started'))).toBe(true);
      expect(stream.ended).toBe(false);

      await finish(sweep.id);
      await stream.toEnd();
      expect(stream.ended).toBe(true);
      expect(stream.ids()).toEqual((await sweepEventsAfter(t.db, sweep.id, 0)).map((e) => e.id));
      expect(stream.events.at(-1)).toMatchObject({ type: 'sweep.updated', data: { status: how } });
      // The server let go of the stream: no subscription or drain entry is left behind.
      await sleepUntil(() => t.api.deps.streams.size === 0 && t.api.deps.hub.subscribers === 0, { what: 'the stream to be released' });
      expect(t.api.deps.streams.size).toBe(0);
    });
  }
});
