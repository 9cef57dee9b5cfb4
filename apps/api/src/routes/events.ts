// GET /sweeps/:id/events: the sweep's event log as server-sent events. Every event comes from
// Postgres in id order; Last-Event-ID (header, or ?lastEventId= for EventSource's first
// connection) resumes after that id, so a client that reconnects, even to another API
// process or after a restart, misses nothing and sees nothing twice. A finished sweep's stream
// ends once it has sent every stored event, and a resumption with nothing left to send gets 204
// No Content, which tells an SSE client to stop reconnecting.
import { getSweep, sweepEventsAfter, TERMINAL_SWEEP_STATUSES, type StoredSweepEvent } from '@hypersweep/db';
import { EventsQuery, LastEventId, SweepPathParams, formatSseEvent, type SweepEvent } from '@hypersweep/schemas';
import { Router } from 'express';
import type { ApiDeps } from '../deps.ts';
import { HttpError } from '../errors.ts';
import { parseHeader, parseParams, parseQuery } from '../validate.ts';
import { requireSweepAccess } from '../scope.ts';

/** A comment line keeps proxies from closing an idle stream; each ping also re-reads, covering a lost NOTIFY. */
const PING_MS = 15_000;
/** Events read per query while catching up. */
const PAGE = 2_000;

function toSse(event: StoredSweepEvent): string {
  const body = { id: event.id, type: event.type, sweepId: event.sweepId, at: event.at.toISOString(), data: event.data } as SweepEvent;
  return formatSseEvent(body);
}

export function eventRoutes(deps: ApiDeps): Router {
  const router = Router();
  router.get('/sweeps/:sweepId/events', async (req, res) => {
    // Listened for before any await: a client that leaves while the sweep is read, or whose
    // request's own 'close' came with the end of its body, must still end the stream.
    let closed = req.socket.destroyed;
    let pending = true;
    let wakeUp: (() => void) | null = null;
    const wake = () => {
      pending = true;
      wakeUp?.();
    };
    const stream = { end: () => ((closed = true), wake()) };
    res.once('close', stream.end);
    const { sweepId } = parseParams(SweepPathParams, req);
    const fromHeader = parseHeader(LastEventId, req, 'Last-Event-ID');
    const q = parseQuery(EventsQuery, req);
    const resumeAfter = fromHeader ?? q.lastEventId;
    let lastId = resumeAfter ?? 0;
    await requireSweepAccess(deps.db, req, sweepId, 'read');
    const sweep = await getSweep(deps.db, sweepId);
    if (!sweep) throw new HttpError('not_found', `no sweep ${sweepId}`, [{ path: 'sweepId', message: 'no such sweep' }]);
    // eventSeq is the id of the last stored event (bumped in each event's transaction), read in the
    // same row as the status. Without Last-Event-ID a finished sweep still replays its whole log.
    if (resumeAfter !== undefined && TERMINAL_SWEEP_STATUSES.includes(sweep.status) && resumeAfter >= sweep.eventSeq) {
      res.status(204).end();
      return;
    }
    // Past the last stored event: the ids in between would be skipped when they come.
    if (resumeAfter !== undefined && resumeAfter > sweep.eventSeq) {
      const path = fromHeader !== undefined ? 'headers.Last-Event-ID' : 'lastEventId';
      throw new HttpError('invalid_request', `event ${resumeAfter} is past the sweep's last event (${sweep.eventSeq})`, [{ path, message: `at most ${sweep.eventSeq}, the last event's id` }]);
    }

    if (closed) return;
    // Shutdown ended the open streams already; one that would open now would hold it up.
    if (deps.closing.value) throw new HttpError('unavailable', 'the server is shutting down; reconnect', [{ path: 'request', message: 'shutting down' }], { 'Retry-After': '1' });
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    // HEAD gets the stream's headers and no stream: an open one would hold its connection.
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.flushHeaders();
    res.write('retry: 2000\n\n');

    deps.streams.add(stream);
    const unsubscribe = deps.hub.subscribe(sweepId, wake);
    const ping = setInterval(() => {
      if (!closed) res.write(': ping\n\n');
      wake();
    }, PING_MS);

    /** Sends every stored event after lastId, a page at a time, until a page comes back short. */
    const sendEventsAfterLastId = async (): Promise<void> => {
      for (;;) {
        const events = await sweepEventsAfter(deps.db, sweepId, lastId, PAGE);
        if (closed || events.length === 0) return;
        // One write per page: a replay of a long sweep is a few large writes, not one per event.
        const ok = res.write(events.map(toSse).join(''));
        lastId = events.at(-1)!.id;
        if (!ok && !closed) {
          await new Promise<void>((resolve) => {
            const done = () => {
              res.off('drain', done);
              res.off('close', done);
              resolve();
            };
            res.on('drain', done);
            res.on('close', done);
          });
        }
        if (events.length < PAGE) return;
      }
    };

    try {
      while (!closed) {
        if (!pending) {
          await new Promise<void>((resolve) => (wakeUp = resolve));
          wakeUp = null;
          continue;
        }
        pending = false;
        await sendEventsAfterLastId();
        if (closed) break;
        // Caught up. A finished sweep's stream ends here, but events may still follow its terminal
        // sweep.updated (the best trial's test result, a late epoch): so the status is read first,
        // then the log once more, and whatever was committed meanwhile is sent before the end.
        // Only the status: this runs on every wake of every open stream.
        const now = await deps.db.sweep.findUnique({ where: { id: sweepId }, select: { status: true } });
        if (!now || TERMINAL_SWEEP_STATUSES.includes(now.status)) {
          await sendEventsAfterLastId();
          break;
        }
      }
    } catch (error) {
      deps.logger.warn({ err: error, sweepId }, 'event stream ended by an error');
    } finally {
      clearInterval(ping);
      unsubscribe();
      deps.streams.delete(stream);
      res.end();
    }
  });
  return router;
}
