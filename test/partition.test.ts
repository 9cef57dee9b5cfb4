// A network partition. Three workers run as separate hosts, each in its own network namespace
// (test/lib/netns.ts), and reach this test's own PostgreSQL and redis-server only over their link.
// In the middle of a trial, its worker's link is cut — packets vanish both ways, so its connections
// hang rather than fail — while it is training (none of its connections is inside a transaction),
// and stays cut past the job lock: another worker takes the trial over and trains it. Then the link
// is restored: the partitioned worker's epoch write, pending since the cut, reaches Postgres after
// the takeover and is refused (claim_lost); it stops and writes nothing. The trial finishes once,
// under the new claim; every trial stored epochs 1..E exactly once, bit-identical to a fault-free
// run of the same sweep, and no row or event of the stale claim dates from after the takeover.
import { ScratchPostgres } from '@hypersweep/db/testing';
import { sleepUntil } from '@hypersweep/queue/testing';
import type { Sweep } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLines, storedTrials, sweepFinished, TRAINING_METRICS, type StoredTrial } from './lib/db-faults.ts';
import { createNetHost, netnsSupported, type NetHost } from './lib/netns.ts';
import { RedisServer } from './lib/redis-server.ts';
import { spiralsSweep, startedEvents } from './lib/sweeps.ts';
import { spawnTs, Stack, type ManagedProcess } from './lib/stack.ts';

const WORKERS = 3;
const EPOCHS = 40;
const TRIALS = 4;
const JOB_LOCK_MS = 2_500;
// Two trials at a time on three workers: one worker is free to take a partitioned one over. Many
// samples, so that a worker spends most of an epoch training rather than writing (see the cut).
const spec = (name: string) => spiralsSweep({ name, count: 80_000, epochs: EPOCHS, maxTrials: TRIALS, concurrency: 2 });

const CLAIM_LOST = 'claim lost: trial taken over or ended elsewhere; stopped training it';
const TAKEN_OVER = 'trial taken over by another worker; stopped training it';
/** Cuts that found the victim mid-transaction (each healed at once) before the test gives up. */
const MAX_CUT_ATTEMPTS = 30;

describe('a worker partitioned from Postgres and Redis mid-trial', () => {
  const hosts: NetHost[] = [];
  const hostOf = new Map<string, NetHost>();
  let server: ScratchPostgres | undefined;
  let redis: RedisServer | undefined;
  let stack: Stack | undefined;

  beforeAll(async () => {
    const support = await netnsSupported();
    // Not a skip: CI runs as root, and this test is the partition acceptance check.
    if (!support.ok) throw new Error(`partition.test.ts runs workers in network namespaces (ip netns + veth + tc, as root): ${support.reason}`);
    for (let i = 0; i < WORKERS; i++) hosts.push(await createNetHost(`partition${i}`));
    // The test's own servers listen on each link's host side too; the shared ones are never touched.
    server = await ScratchPostgres.start({
      settings: { listen_addresses: ['127.0.0.1', ...hosts.map((h) => h.hostAddress)].join(',') },
      trustedClients: hosts.map((h) => `${h.nsAddress}/32`),
    });
    redis = await RedisServer.start('partition', { bind: hosts.map((h) => h.hostAddress) });
    stack = await Stack.start({
      name: 'partition',
      workers: 0,
      threads: 1,
      adminUrl: server.adminUrl,
      redisUrl: redis.url,
      workerEnv: { JOB_LOCK_MS: String(JOB_LOCK_MS), STALLED_CHECK_MS: '500' },
    });
    for (const host of hosts) {
      const worker = stack.startWorker(
        { DATABASE_URL: server.url(stack.database.database.name, host.hostAddress), REDIS_URL: redis.urlAt(host.hostAddress) },
        { wrap: host.command([]) },
      );
      hostOf.set(worker.name, host);
    }
    await stack.waitForWorkers(WORKERS);
  }, 180_000);

  afterAll(async () => {
    // Healed first, so the workers can release their trials and exit on SIGTERM.
    for (const host of hosts) await host.restore().catch(() => undefined);
    await stack?.close().catch(() => undefined);
    await redis?.stop().catch(() => undefined);
    await server?.destroy().catch(() => undefined);
    for (const host of hosts) await host.destroy();
  }, 120_000);

  it('takes the trial over, refuses the partitioned worker’s late write, and loses or duplicates nothing', async () => {
    const s = stack!;
    const runSweep = (name: string) => s.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: spec(name) });

    // The reference: the same sweep, fault-free, on the same servers and workers.
    const reference = await runSweep('partition-reference');
    expect((await sweepFinished(s.db, reference.id, 120_000)).status).toBe('completed');

    const sweep = await runSweep('partition');
    // The victim: the worker of a running trial with many epochs left.
    let target = { id: '', number: -1, attempt: 0, workerId: '' };
    await sleepUntil(
      async () => {
        const trial = await s.db.trial.findFirst({ where: { sweepId: sweep.id, status: 'running', epochsDone: { gte: 5, lte: EPOCHS / 2 } }, orderBy: { number: 'asc' } });
        if (trial?.workerId) target = { id: trial.id, number: trial.number, attempt: trial.attempt, workerId: trial.workerId };
        return trial !== null;
      },
      { timeoutMs: 60_000, intervalMs: 10, what: 'a running trial past epoch 5' },
    );
    const victim = s.workers.find((w) => w.name === target.workerId);
    expect(victim, `holder ${target.workerId}`).toBeDefined();
    const host = hostOf.get(victim!.name)!;

    /** The victim's Postgres connections inside a transaction or running a statement (seen by the server). */
    const busyConnections = async () =>
      (await s.db.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE client_addr = ${host.nsAddress}::inet AND state <> 'idle'`)[0]!.n;
    /** Whether `busyConnections()` stays 0 for `ms` (sampled back to back). */
    const staysIdle = async (ms: number) => {
      const until = Date.now() + ms;
      do if ((await busyConnections()) > 0) return false;
      while (Date.now() < until);
      return true;
    };
    const stillHeld = async () => {
      const trial = await s.db.trial.findUniqueOrThrow({ where: { id: target.id } });
      return trial.status === 'running' && trial.attempt === target.attempt && trial.epochsDone < EPOCHS - 10 ? trial.epochsDone : null;
    };

    // Cut while the victim trains (an epoch of 80 000 samples takes tens of ms), not inside one of
    // its transactions: then what it sends next — its next epoch write — is held back by the
    // partition and reaches Postgres only after the restore, behind the takeover, where nothing but
    // the fence can refuse it (even if its 500 ms poll notices the takeover first); and it holds no
    // row lock that would keep the takeover waiting for the restore. The server's view of its
    // connections decides: idle for 10 ms before the cut (the gaps between its transactions are
    // far shorter), none busy in the 100 ms after it. A cut that finds it mid-transaction is healed
    // at once (well within its job lock) and tried again after its next epoch.
    let flaps = 0;
    let epochsAtCut = -1;
    for (;;) {
      await sleepUntil(() => staysIdle(10), { timeoutMs: 30_000, intervalMs: 1, what: 'the victim to train between epoch writes' });
      await host.cut();
      const held = await stillHeld();
      if (held === null) throw new Error(`trial ${target.number} ended or changed hands before the cut (${flaps} healed cuts); too few epochs for this machine?`);
      if (await staysIdle(100)) {
        epochsAtCut = held;
        break;
      }
      await host.restore();
      flaps += 1;
      if (flaps >= MAX_CUT_ATTEMPTS) throw new Error(`the victim was inside a transaction at each of ${flaps} cuts`);
      await sleepUntil(async () => ((await stillHeld()) ?? Infinity) > held, { timeoutMs: 30_000, intervalMs: 10, what: 'the victim’s next epoch' });
    }
    const cutAt = Date.now();

    // Past the job lock, another worker takes the trial over (release + claim: attempt + 1) while
    // the victim is still cut off, and trains it: an epoch stored under the new claim.
    let newHolder = '';
    await sleepUntil(
      async () => {
        const trial = await s.db.trial.findUniqueOrThrow({ where: { id: target.id } });
        newHolder = trial.workerId ?? '';
        return trial.status === 'running' && trial.attempt === target.attempt + 1;
      },
      { timeoutMs: 60_000, intervalMs: 50, what: 'another worker to take the trial over' },
    );
    expect(newHolder).not.toBe(victim!.name);
    await sleepUntil(async () => (await s.db.metric.count({ where: { trialId: target.id, attempt: target.attempt + 1 } })) > 0, {
      timeoutMs: 30_000,
      intervalMs: 50,
      what: 'the new holder to store an epoch',
    });
    const cutMs = Date.now() - cutAt;
    await host.restore();

    // Its connections come back; its pending write is refused and it stops the trial.
    await sleepUntil(() => logLines(victim!.output(), CLAIM_LOST).length + logLines(victim!.output(), TAKEN_OVER).length > 0, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'the partitioned worker to stop the trial',
    });
    const done = await sweepFinished(s.db, sweep.id, 180_000);
    const ref = await sweepFinished(s.db, reference.id, 10_000);
    const context = `victim ${victim!.name}, cut ${cutMs} ms after ${flaps} healed attempts, at epoch ${epochsAtCut}`;

    // No trial failed; every trial stored epochs 1..E once each (rows and events).
    const outputs = s.workers.map((w: ManagedProcess) => w.output());
    expect(outputs.flatMap((o) => logLines(o, 'trial failed'))).toEqual([]);
    expect(done.status).toBe('completed');
    const [parted, clean] = await Promise.all([storedTrials(s.db, sweep.id), storedTrials(s.db, reference.id)]);
    expect(parted.map((t) => t.status)).toEqual(Array.from({ length: TRIALS }, () => 'completed'));
    const epochs = Array.from({ length: EPOCHS }, (_, i) => i + 1);
    for (const trial of parted) {
      const what = `trial ${trial.number} (attempt ${trial.attempt}); ${context}`;
      expect(trial.epochsDone, what).toBe(EPOCHS);
      for (const name of TRAINING_METRICS) expect(trial.series.get(name)?.steps, `${what} ${name}`).toEqual(epochs);
      expect(trial.epochEvents, what).toEqual(epochs);
    }

    // Taken over once, by the other worker, and finished once, under the new claim.
    const taken = parted.find((t) => t.id === target.id)!;
    expect(taken).toMatchObject({ status: 'completed', attempt: target.attempt + 1 });
    const starts = (await startedEvents(s.db, sweep.id)).filter((e) => e.trialId === target.id);
    expect(starts.slice(-2).map((e) => [e.attempt, e.workerId])).toEqual([
      [target.attempt, victim!.name],
      [target.attempt + 1, newHolder],
    ]);
    const takeover = starts.at(-1)!;
    expect(takeover.resumedFromEpoch, context).toBe(epochsAtCut);
    const events = await s.db.sweepEventRow.findMany({ where: { sweepId: sweep.id }, orderBy: { seq: 'asc' } });
    const ofTrial = events.filter((e) => (e.data as { trialId?: string }).trialId === target.id);
    expect(ofTrial.filter((e) => e.type === 'trial.completed').map((e) => e.attempt)).toEqual([target.attempt + 1]);
    expect(events.filter((e) => e.type === 'trial.failed' || e.type === 'trial.stopped')).toEqual([]);

    // Nothing of the stale claim after the takeover: no event, no metric row, no checkpoint.
    const stale = ofTrial.filter((e) => e.attempt === target.attempt);
    expect(stale.length).toBeGreaterThan(0);
    expect(stale.filter((e) => e.seq > takeover.id).map((e) => `${e.type}#${e.seq}`)).toEqual([]);
    const metrics = await s.db.metric.findMany({ where: { trialId: target.id }, select: { name: true, step: true, attempt: true } });
    const checkpoints = await s.db.checkpoint.findMany({ where: { trialId: target.id }, select: { epoch: true, attempt: true } });
    expect(metrics.filter((m) => m.step > takeover.resumedFromEpoch && m.attempt !== target.attempt + 1).map((m) => `${m.name}@${m.step}#${m.attempt}`)).toEqual([]);
    expect(metrics.filter((m) => m.step <= takeover.resumedFromEpoch && (m.attempt === null || m.attempt > target.attempt)).map((m) => `${m.name}@${m.step}#${m.attempt}`)).toEqual([]);
    expect(checkpoints.filter((c) => c.epoch > takeover.resumedFromEpoch && c.attempt !== target.attempt + 1)).toEqual([]);

    // The victim's write was refused by the fence (no mere poll noticing the takeover), naming the
    // new claim; it marked the trial nothing, and lives on.
    const out = victim!.output();
    const lost = logLines(out, CLAIM_LOST).filter((l) => l.trialId === target.id);
    expect(lost, context).toHaveLength(1);
    expect(lost[0], context).toMatchObject({ attempt: target.attempt, holder: newHolder, holderAttempt: target.attempt + 1 });
    expect(String(lost[0]!.err)).toContain(`claim of attempt ${target.attempt} by ${victim!.name} lost`);
    expect(logLines(out, TAKEN_OVER).filter((l) => l.trialId === target.id), context).toEqual([]);
    expect(logLines(out, 'trial cancelled')).toEqual([]);
    expect(victim!.child.exitCode).toBeNull();

    // Bit-identical to the fault-free run: same params per trial number, same values, same winner.
    const byNumber = new Map<number, StoredTrial>(clean.map((t) => [t.number, t]));
    for (const trial of parted) {
      const twin = byNumber.get(trial.number)!;
      expect(trial.params).toEqual(twin.params);
      for (const name of TRAINING_METRICS) expect(trial.series.get(name)?.values, `trial ${trial.number} ${name}`).toEqual(twin.series.get(name)?.values);
      expect(trial.finalValue).toBe(twin.finalValue);
    }
    const numberOf = (trials: StoredTrial[], id: string | null) => trials.find((t) => t.id === id)?.number;
    expect(numberOf(parted, done.bestTrialId)).toBe(numberOf(clean, ref.bestTrialId));
    const { trialId: _a, ...testResult } = done.testResult as { trialId: string };
    const { trialId: _b, ...refResult } = ref.testResult as { trialId: string };
    expect(testResult).toEqual(refResult);

    // Every worker is still up.
    for (const worker of s.workers) expect(worker.child.exitCode, worker.name).toBeNull();
  });
  it('a client cut off inside a transaction loses its row locks within about 30 s (the session’s idle-in-transaction bound)', async () => {
    const s = stack!;
    const host = hosts[0]!;
    const sweep = await s.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: spec('partition-lock') });
    await s.json(`/api/v1/sweeps/${sweep.id}/cancel`, { method: 'POST' });
    const holder = spawnTs('partition-lock-holder', 'test/lib/hold-row-lock.ts', { DATABASE_URL: server!.url(s.database.database.name, host.hostAddress) }, [sweep.id], { wrap: host.command([]) });
    try {
      await sleepUntil(async () => holder.output().includes('locked'), { timeoutMs: 30_000, what: 'the namespaced client to lock the sweep row' });
      const locked = async () =>
        s.db.$transaction(async (tx) => {
          await tx.$executeRawUnsafe('SET LOCAL lock_timeout = 200');
          await tx.$queryRaw`SELECT id FROM sweeps WHERE id = ${sweep.id}::uuid FOR UPDATE`;
        }).then(() => false, () => true);
      expect(await locked()).toBe(true);
      await host.cut();
      const cutAt = Date.now();
      // Without a bound the server would hold the silent client's locks until TCP gives up (~15 minutes).
      await sleepUntil(async () => !(await locked()), { timeoutMs: 60_000, intervalMs: 500, what: 'the cut client\'s row lock to be released' });
      const releasedMs = Date.now() - cutAt;
      expect(releasedMs).toBeGreaterThan(5_000); // released by the server's bound, not by the cut itself
      expect(releasedMs).toBeLessThan(45_000);
    } finally {
      await host.restore();
      holder.child.kill('SIGKILL');
      await holder.exited;
    }
  }, 120_000);
});
