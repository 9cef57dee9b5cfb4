// Every status write goes through the state machine: a trigger records each write of a status
// column, so a write that bypasses states.ts (or is illegal) shows up; and a scan of the sources
// finds any status write outside the two statements of states.ts.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SWEEP_CANCELLED_REASON, sweepEventsAfter } from './events.ts';
import type { Trial } from './generated/prisma/client.ts';
import type { SweepStatus, TrialStatus } from './generated/prisma/enums.ts';
import { TERMINAL_TRIAL_STATUSES, canTransition, setSweepStatus } from './states.ts';
import { cancelSweep, createSweep } from './sweeps.ts';
import { createMigratedTestDatabase, type MigratedTestDatabase } from './testing.ts';
import { claimTrial, createTrial, finishTrial, releaseTrial, retryTrial } from './trials.ts';

interface StatusWrite {
  seq: number;
  entity: 'sweep' | 'trial';
  rowId: string;
  from: string;
  to: string;
}

describe('status writes', () => {
  let t: MigratedTestDatabase;
  let audit: pg.Client;

  beforeAll(async () => {
    t = await createMigratedTestDatabase();
    audit = new pg.Client({ connectionString: t.database.url });
    await audit.connect();
    // `UPDATE OF status` fires whenever a statement sets the column, even to the value it had.
    await audit.query(`
      CREATE TABLE status_writes (seq bigserial PRIMARY KEY, entity text NOT NULL, row_id uuid NOT NULL, from_status text NOT NULL, to_status text NOT NULL);
      CREATE FUNCTION record_status_write() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO status_writes (entity, row_id, from_status, to_status) VALUES (TG_ARGV[0], NEW.id, OLD.status::text, NEW.status::text);
        RETURN NULL;
      END $$;
      CREATE TRIGGER sweeps_status_writes AFTER UPDATE OF status ON sweeps FOR EACH ROW EXECUTE FUNCTION record_status_write('sweep');
      CREATE TRIGGER trials_status_writes AFTER UPDATE OF status ON trials FOR EACH ROW EXECUTE FUNCTION record_status_write('trial');
    `);
  });
  afterAll(async () => {
    await audit?.end();
    await t?.close();
  });

  const writesAfter = async (seq: number): Promise<StatusWrite[]> =>
    (
      await audit.query<{ seq: string; entity: 'sweep' | 'trial'; row_id: string; from_status: string; to_status: string }>(
        'SELECT seq, entity, row_id, from_status, to_status FROM status_writes WHERE seq > $1 ORDER BY seq',
        [seq],
      )
    ).rows.map((r) => ({ seq: Number(r.seq), entity: r.entity, rowId: r.row_id, from: r.from_status, to: r.to_status }));
  const lastWrite = async (): Promise<number> => (await writesAfter(0)).at(-1)?.seq ?? 0;

  /** A legal transition; failed → queued only for a retried trial. */
  const legal = (w: StatusWrite, retried: ReadonlySet<string>): boolean =>
    w.entity === 'sweep'
      ? canTransition('sweep', w.from as SweepStatus, w.to as SweepStatus)
      : canTransition('trial', w.from as TrialStatus, w.to as TrialStatus, { retry: retried.has(w.rowId) });

  const newSweep = async (name: string) =>
    (await createSweep(t.db, { name, spec: {}, seed: 1, objective: { metric: 'val_loss', mode: 'minimize' }, budget: { maxTrials: 20 } })).sweep;

  it('cancelling a sweep with trials in every state makes only legal transitions and leaves the others untouched', async () => {
    const start = await lastWrite();
    const sweep = await newSweep('every state');
    await setSweepStatus(t.db, sweep.id, 'running');
    const trial = async (i: number) => createTrial(t.db, sweep.id, { params: { i } });
    const running = async (i: number) => {
      const created = await trial(i);
      expect((await claimTrial(t.db, created.id, 'w')).changed).toBe(true);
      return created;
    };
    const queued = await trial(0);
    await running(1);
    const completed = await running(2);
    await finishTrial(t.db, completed.id, 'completed', { finalValue: 0.5 });
    const stopped = await running(3);
    await finishTrial(t.db, stopped.id, 'stopped', { reason: 'scheduler' });
    const failed = await running(4);
    await finishTrial(t.db, failed.id, 'failed', { error: 'boom' });
    const cancelled = await trial(5);
    await finishTrial(t.db, cancelled.id, 'cancelled');
    const released = await running(6);
    await releaseTrial(t.db, released.id);
    const retried = await running(7);
    await finishTrial(t.db, retried.id, 'failed', { error: 'once' });
    await retryTrial(t.db, retried.id);

    const before = await t.db.trial.findMany({ where: { sweepId: sweep.id }, orderBy: { number: 'asc' } });
    expect(new Set(before.map((r) => r.status))).toEqual(new Set(['queued', 'running', 'completed', 'stopped', 'failed', 'cancelled']));
    const beforeCancel = await lastWrite();
    const lastEvent = (await sweepEventsAfter(t.db, sweep.id, 0)).at(-1)!.id;

    const result = await cancelSweep(t.db, sweep.id);
    const queuedIds = [queued.id, released.id, retried.id];
    expect(result).toMatchObject({ changed: true, cancelledTrials: queuedIds.length, sweep: { status: 'cancelled' } });

    // Exactly the legal writes of a cancel: the sweep, then each queued trial.
    const cancelWrites = await writesAfter(beforeCancel);
    expect(cancelWrites.map(({ entity, rowId, from, to }) => ({ entity, rowId, from, to }))).toEqual([
      { entity: 'sweep', rowId: sweep.id, from: 'running', to: 'cancelled' },
      ...queuedIds.map(() => expect.objectContaining({ entity: 'trial', from: 'queued', to: 'cancelled' })),
    ]);
    expect(new Set(cancelWrites.filter((w) => w.entity === 'trial').map((w) => w.rowId))).toEqual(new Set(queuedIds));
    // Every write of the whole test, set-up included, was a legal transition.
    const all = await writesAfter(start);
    expect(all.filter((w) => !legal(w, new Set([retried.id])))).toEqual([]);

    // The running trial and the terminal ones are byte-for-byte what they were.
    const after = await t.db.trial.findMany({ where: { sweepId: sweep.id }, orderBy: { number: 'asc' } });
    const untouched = (rows: Trial[]) => rows.filter((r) => !queuedIds.includes(r.id));
    expect(untouched(after)).toEqual(untouched(before));
    expect(untouched(before).map((r) => r.status).sort()).toEqual(['cancelled', 'completed', 'failed', 'running', 'stopped']);
    expect(TERMINAL_TRIAL_STATUSES.filter((s) => !untouched(after).some((r) => r.status === s))).toEqual([]);
    for (const row of after.filter((r) => queuedIds.includes(r.id))) {
      expect(row).toMatchObject({ status: 'cancelled', reason: SWEEP_CANCELLED_REASON });
      expect(row.finishedAt).toBeInstanceOf(Date);
    }

    // Their events, in the same transaction: one trial.stopped each (trial order), then one sweep.updated.
    const events = await sweepEventsAfter(t.db, sweep.id, lastEvent);
    expect(events.map((e) => e.type)).toEqual([...queuedIds.map(() => 'trial.stopped'), 'sweep.updated']);
    expect(events.slice(0, -1).map((e) => (e.data as { trialId: string }).trialId)).toEqual(queuedIds);
    expect(events.slice(0, -1).every((e) => (e.data as { byUser: boolean; reason: string }).byUser && (e.data as { reason: string }).reason === SWEEP_CANCELLED_REASON)).toBe(true);
    expect(events.at(-1)?.data).toMatchObject({ status: 'cancelled', counts: { queued: 0, running: 1, cancelled: 4, completed: 1, stopped: 1, failed: 1 } });
  });

  it('cancels a pending sweep, and writes nothing for a finished one', async () => {
    const pending = await newSweep('pending');
    const queued = await createTrial(t.db, pending.id, { params: {} });
    const beforeCancel = await lastWrite();
    expect(await cancelSweep(t.db, pending.id)).toMatchObject({ changed: true, cancelledTrials: 1 });
    expect((await writesAfter(beforeCancel)).map(({ entity, rowId, from, to }) => ({ entity, rowId, from, to }))).toEqual([
      { entity: 'sweep', rowId: pending.id, from: 'pending', to: 'cancelled' },
      { entity: 'trial', rowId: queued.id, from: 'queued', to: 'cancelled' },
    ]);

    const done = await newSweep('completed');
    await setSweepStatus(t.db, done.id, 'running');
    const finished = await createTrial(t.db, done.id, { params: {} });
    await claimTrial(t.db, finished.id, 'w');
    await finishTrial(t.db, finished.id, 'completed', { finalValue: 1 });
    await setSweepStatus(t.db, done.id, 'completed');
    const beforeSecond = await lastWrite();
    const again = await cancelSweep(t.db, done.id);
    expect(again).toMatchObject({ changed: false, cancelledTrials: 0, sweep: { status: 'completed' } });
    expect(await cancelSweep(t.db, pending.id)).toMatchObject({ changed: false, sweep: { status: 'cancelled' } });
    expect(await writesAfter(beforeSecond)).toEqual([]);
  });
});

describe('the sources of packages/db', () => {
  const dir = fileURLToPath(new URL('.', import.meta.url));
  /** states.ts holds the two status statements; this file's SQL, and the plain-SQL writers the count triggers must follow, name the column on purpose. */
  const exempt = new Set(['states.ts', 'sweep-counts.test.ts', basename(fileURLToPath(import.meta.url))]);
  const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !exempt.has(f));

  /** The `{…}` that starts at `open`, braces balanced. */
  const objectAt = (text: string, open: number): string => {
    let depth = 0;
    for (let i = open; i < text.length; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}' && --depth === 0) return text.slice(open, i + 1);
    }
    return text.slice(open);
  };

  /** Places in `text` that write a sweep's or a trial's status without going through states.ts. */
  function statusWrites(text: string): string[] {
    const found: string[] = [];
    // Prisma writes: the `data` of create/update/updateMany(AndReturn), and an upsert's `create` / `update`.
    for (const m of text.matchAll(/\b(?:data|create|update)\s*:\s*\{/g)) {
      const object = objectAt(text, m.index + m[0].length - 1);
      if (/\bstatus\s*:/.test(object)) found.push(object);
    }
    for (const m of text.matchAll(/\bdata\??\.status\s*=(?!=)[^;\n]*/g)) found.push(m[0]);
    // Raw SQL.
    for (const m of text.matchAll(/\bUPDATE\s+"?(?:sweeps|trials)"?\s+SET\b[^`;]*/gi)) if (/\bstatus\s*=/i.test(m[0])) found.push(m[0]);
    for (const m of text.matchAll(/\bINSERT\s+INTO\s+"?(?:sweeps|trials)"?\s*\([^)]*\bstatus\b/gi)) found.push(m[0]);
    return found;
  }

  it('finds the status writes it looks for', () => {
    expect(statusWrites("await tx.trial.updateMany({ where: { sweepId }, data: { status: 'cancelled', finishedAt: new Date() } });")).toHaveLength(1);
    expect(statusWrites("await db.sweep.upsert({ where: { id }, create: { name }, update: { status: 'failed' } });")).toHaveLength(1);
    expect(statusWrites('data.status = "failed";')).toHaveLength(1);
    expect(statusWrites("UPDATE trials SET reason = 'x', status = 'cancelled' WHERE sweep_id = $1")).toHaveLength(1);
    expect(statusWrites('INSERT INTO sweeps (id, name, status) VALUES ($1, $2, $3)')).toHaveLength(1);
    expect(statusWrites("db.trial.findMany({ where: { status: { in: ['queued'] } } }); where.status = { in: s }; if (row.status === 'queued') {}")).toEqual([]);
    expect(statusWrites('UPDATE sweeps SET event_seq = event_seq + 1 WHERE id = $1')).toEqual([]);
  });

  it('writes a status only in states.ts', () => {
    expect(sources.length).toBeGreaterThan(10);
    const offenders = sources.flatMap((file) => statusWrites(readFileSync(join(dir, file), 'utf8')).map((write) => `${file}: ${write}`));
    expect(offenders).toEqual([]);
  });
});
