// Chaos: a sweep on 3 worker processes under a seeded schedule of faults of every kind the fault
// tests inject one at a time — kill -9 and SIGTERM of a worker (a replacement started), a worker
// paused with SIGSTOP past its job lock (fencing), a worker cut off the network (its own network
// namespace), kill -9 of the API, Redis FLUSHALL and Redis killed and restarted empty, every
// PostgreSQL backend terminated, PostgreSQL restarted `-m immediate`, its backends frozen past the
// job lock — against a fault-free run of the same sweep on the same stack first. Nothing may be lost,
// left out, written twice or changed by a bit; no trial may fail.
//
// `npm run bench -- chaos [rounds]`: each round injects every kind once, in a seeded order (3 rounds,
// 30 faults, by default). The stack is the benchmark's own — a scratch PostgreSQL server, a private
// redis-server, the workers in network namespaces (test/lib/netns.ts, so root) — so the faults touch
// nothing else on the machine.
import { ScratchPostgres } from '@hypersweep/db/testing';
import { Rng } from '@hypersweep/nn';
import { listWorkers } from '@hypersweep/queue';
import type { Sweep } from '@hypersweep/schemas';
import { logLines, patiently, storedTrials, sweepFinished } from '../test/lib/db-faults.ts';
import { createNetHost, netnsSupported, type NetHost } from '../test/lib/netns.ts';
import { RedisServer } from '../test/lib/redis-server.ts';
import { Stack, type ManagedProcess } from '../test/lib/stack.ts';
import { spiralsSweep, startedEvents } from '../test/lib/sweeps.ts';
import { compareRuns, quantile } from './lib/chaos-compare.ts';

const SEED = 20_261_204;
const DEFAULT_ROUNDS = 3;
const WORKERS = 3;
/** Two trials train at once on three workers: a spare is always there to take a trial over. */
const CONCURRENT = 2;
const TRIALS = 16;
const EPOCHS = 400;
/** Spirals points: an epoch of ~0.06–0.1 s on this machine, so a trial lasts 25–40 s and faults land mid-trial. */
const COUNT = 60_000;
/**
 * Short job locks: a dead or frozen worker's trial is taken over within seconds. Not shorter: on a
 * loaded 2-core machine a live worker's renewal (every half lock) then comes late now and then, and
 * its trial is taken over for nothing (correct, but a restart no fault caused).
 */
const JOB_LOCK_MS = 5_000;
const STALLED_CHECK_MS = 1_000;
/** A fault is injected only while a running trial has at least this many epochs to go. */
const MARGIN_EPOCHS = 40;
/**
 * A pause or a partition lasts past the job lock until the trial was taken over, or this much longer
 * at most: beyond the 30 s for which PostgreSQL lets a silent session idle in a transaction
 * (packages/db's session settings), so one hit inside its epoch transaction — holding the sweep row
 * every writer of the sweep needs — is resolved by the server, not by this benchmark giving up.
 */
const TAKEOVER_WAIT_MS = 40_000;
/** No recovery seen this long after a fault: it is recorded as unrecovered (-1) and the schedule goes on. */
const RECOVERY_DEADLINE_MS = 120_000;
const POLL_MS = 100;

const KINDS = [
  'worker_kill9',
  'worker_sigterm',
  'worker_pause',
  'worker_partition',
  'api_kill9',
  'redis_flushall',
  'redis_restart',
  'pg_terminate',
  'pg_restart',
  'pg_stall',
] as const;
type Kind = (typeof KINDS)[number];
const WORKER_KINDS: ReadonlySet<Kind> = new Set(['worker_kill9', 'worker_sigterm', 'worker_pause', 'worker_partition']);

interface PlannedFault {
  index: number;
  kind: Kind;
  /** Wait before this fault, after the previous one recovered. */
  gapMs: number;
  /** How long the fault holds: pause/partition minimum, PostgreSQL stall, Redis down time; 0 for instant faults. */
  holdMs: number;
  /** In [0, 1): which of the candidate targets (sorted by worker name) is hit. */
  pick: number;
}

/** The seeded schedule: every kind once per round, each round in its own order. */
function planFaults(rng: Rng, rounds: number): PlannedFault[] {
  const out: PlannedFault[] = [];
  for (let round = 0; round < rounds; round++) {
    const kinds = [...KINDS];
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
    }
    for (const kind of kinds) {
      const holdMs =
        kind === 'worker_pause' || kind === 'worker_partition'
          ? JOB_LOCK_MS + rng.uniform(500, 2_000)
          : kind === 'pg_stall'
            ? JOB_LOCK_MS + rng.uniform(500, 1_500)
            : kind === 'redis_restart'
              ? rng.uniform(500, 2_500)
              : 0;
      out.push({ index: out.length, kind, gapMs: Math.round(rng.uniform(3_000, 8_000)), holdMs: Math.round(holdMs), pick: rng.double() });
    }
  }
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` (errors count as false) until it holds; false after `timeoutMs`. */
async function pollUntil(condition: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = POLL_MS): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await Promise.resolve().then(condition).catch(() => false)) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// Worker processes, each on a "host" of its own: a network namespace whose link can be cut
// ---------------------------------------------------------------------------------------------

/** Log messages of the workers worth counting (JSON lines, `msg`). */
const COUNTED_MESSAGES = [
  'trial failed',
  'trial claimed',
  'trial still running from a previous delivery; releasing it',
  'claim lost: trial taken over or ended elsewhere; stopped training it',
  'trial taken over by another worker; stopped training it',
  'trial no longer held by this delivery',
  'trial released for another worker',
  'trial job lock renewal failed; another worker may take the trial',
  'database unavailable; retrying',
  'database unavailable for too long; trial released to resume from its last checkpoint',
  'database unavailable; the trial job goes back to the queue',
  'unhandled transient database error; continuing',
  'unhandled rejection; exiting',
];

interface WorkerProcess {
  proc: ManagedProcess;
  slot: number;
}

/** The three worker machines: each slot a network namespace, running one worker (a replacement after one was stopped). */
class Workers {
  readonly current: (WorkerProcess | null)[];
  /** Workers the benchmark stopped itself (kill -9, SIGTERM): any other exit is a finding. */
  private readonly stopping = new Set<ManagedProcess>();
  readonly unexpectedExits: { name: string; code: number | null; signal: string | null }[] = [];

  constructor(
    private readonly stack: Stack,
    readonly hosts: readonly NetHost[],
    private readonly pg: ScratchPostgres,
    private readonly redis: RedisServer,
  ) {
    this.current = hosts.map(() => null);
  }

  /** Starts a worker (a new WORKER_ID) in the slot's namespace, reaching PostgreSQL and Redis over its link. */
  start(slot: number): WorkerProcess {
    const host = this.hosts[slot]!;
    const proc = this.stack.startWorker(
      { DATABASE_URL: this.pg.url(this.stack.database.database.name, host.hostAddress), REDIS_URL: this.redis.urlAt(host.hostAddress) },
      { wrap: host.command([]) },
    );
    const worker = { proc, slot };
    this.current[slot] = worker;
    void proc.exited.then((code) => {
      if (!this.stopping.has(proc)) this.unexpectedExits.push({ name: proc.name, code, signal: proc.child.signalCode });
      if (this.current[slot] === worker) this.current[slot] = null;
    });
    return worker;
  }

  /** Signals a worker the benchmark means to end (its exit is expected). */
  end(worker: WorkerProcess, signal: 'SIGKILL' | 'SIGTERM'): void {
    this.stopping.add(worker.proc);
    worker.proc.child.kill(signal);
  }

  byName(name: string | null): WorkerProcess | undefined {
    return this.current.find((w) => w !== null && w.proc.name === name) ?? undefined;
  }

  /** Resolves true once every slot's worker publishes a live heartbeat. */
  async allAlive(timeoutMs: number): Promise<boolean> {
    return pollUntil(async () => {
      const view = await listWorkers(this.stack.redis, this.stack.prefix);
      const alive = new Set(view.workers.filter((w) => w.alive).map((w) => w.workerId));
      return this.current.every((w) => w !== null && alive.has(w.proc.name));
    }, timeoutMs, 200);
  }

  /** How many times each counted message was logged, over every worker of the run. */
  logCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const msg of COUNTED_MESSAGES) {
      const n = this.stack.workers.reduce((sum, w) => sum + logLines(w.output(), msg).length, 0);
      if (n > 0) out[msg] = n;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Watching epochs as they are recorded
// ---------------------------------------------------------------------------------------------

interface EpochSeen {
  seq: number;
  trialId: string;
  epoch: number;
  attempt: number | null;
  /** Date.now() when the benchmark first read it (polled every POLL_MS). */
  at: number;
}

/** Polls the sweep's trial.epoch events; ids follow commit order, so reading past the last id seen misses none. */
class EpochWatch {
  readonly seen: EpochSeen[] = [];
  private last = 0;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly stack: Stack,
    private readonly sweepId: string,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const rows = await this.stack.db.sweepEventRow.findMany({
          where: { sweepId: this.sweepId, type: 'trial.epoch', seq: { gt: this.last } },
          select: { seq: true, data: true, attempt: true },
          orderBy: { seq: 'asc' },
        });
        const at = Date.now();
        for (const row of rows) {
          const data = row.data as { trialId: string; epoch: number };
          this.seen.push({ seq: row.seq, trialId: data.trialId, epoch: data.epoch, attempt: row.attempt, at });
          this.last = row.seq;
        }
      } catch {
        // PostgreSQL is down or restarting (a fault): read again at the next tick.
      }
      await sleep(POLL_MS);
    }
  }

  /** The first epoch seen with an id above `seq` (of `trialId` if given). */
  firstAfter(seq: number, trialId?: string): EpochSeen | undefined {
    return this.seen.find((e) => e.seq > seq && (trialId === undefined || e.trialId === trialId));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------------------------

interface FaultRecord {
  index: number;
  kind: Kind;
  /** ms after the faulted sweep was submitted. */
  atMs: number;
  gapMs: number;
  holdMs: number;
  /** Worker hit (worker faults). */
  target?: string;
  /** The trial its worker held (worker faults): number, and epochs done when hit. */
  trial?: number;
  trialEpochsDone?: number;
  /** Injection → the fault's end: the service back (restart, SIGCONT, network restored, API ready). */
  outageMs: number;
  /** Pause / partition: the states of the worker's connections that were not idle when it was hit (PostgreSQL's view). */
  busyConnectionsAtHit?: string[];
  /** Pause / partition: backends of the sweep's database waiting on a lock once the hold was over (held by the frozen or cut-off worker). */
  lockWaitersAfterHold?: number;
  /** Pause / partition: another worker claimed the trial before the worker came back. */
  takenOverMeanwhile?: boolean;
  /** Injection → the recovery epoch (see `recovery_ms` in the definitions); -1 if none came within the deadline. */
  recoveryMs: number;
  recoveredBy?: { trial: number; epoch: number; attempt: number | null };
  /** Injection → the first epoch of any trial: how long the whole sweep made no progress. */
  anyEpochMs: number;
  /** SIGTERM: the worker's exit code (0 expected). */
  exitCode?: number | null;
}

export async function run(args: string[] = []): Promise<{ metrics: Record<string, number>; details: unknown }> {
  const rounds = args[0] ? Number(args[0]) : DEFAULT_ROUNDS;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds must be a positive integer, got ${args[0]}`);
  const plan = planFaults(Rng.fromSeed(SEED), rounds);

  const support = await netnsSupported();
  if (!support.ok) throw new Error(`chaos runs its workers in network namespaces (ip netns + veth + tc, as root): ${support.reason}`);
  const hosts: NetHost[] = [];
  let pg: ScratchPostgres | undefined;
  let redis: RedisServer | undefined;
  let stack: Stack | undefined;
  const paused = new Set<ManagedProcess>();
  let stalled: number[] = [];
  try {
    for (let i = 0; i < WORKERS; i++) hosts.push(await createNetHost(`chaos${i}`));
    // The benchmark's own servers, listening on each worker host's link too.
    pg = await ScratchPostgres.start({
      settings: { listen_addresses: ['127.0.0.1', ...hosts.map((h) => h.hostAddress)].join(',') },
      trustedClients: hosts.map((h) => `${h.nsAddress}/32`),
    });
    redis = await RedisServer.start('chaos', { bind: hosts.map((h) => h.hostAddress) });
    const server = pg;
    const redisServer = redis;
    stack = await Stack.start({
      name: 'chaos',
      workers: 0,
      threads: 1,
      adminUrl: server.adminUrl,
      redisUrl: redisServer.url,
      workerEnv: { JOB_LOCK_MS: String(JOB_LOCK_MS), STALLED_CHECK_MS: String(STALLED_CHECK_MS) },
    });
    const s = stack;
    // While Redis is down this client's reconnection attempts fail; without a listener ioredis prints each one.
    s.redis.on('error', () => undefined);
    const w = new Workers(s, hosts, server, redisServer);
    for (let i = 0; i < WORKERS; i++) w.start(i);
    if (!(await w.allAlive(120_000))) throw new Error('the workers did not come up');

    const spec = (name: string) => spiralsSweep({ name, count: COUNT, epochs: EPOCHS, maxTrials: TRIALS, concurrency: CONCURRENT, search: { seed: SEED } });
    const submit = (name: string) => s.json<Sweep>('/api/v1/sweeps', { method: 'POST', json: spec(name) });

    // 1. The reference: the same sweep, no fault, on the same stack.
    const t0 = Date.now();
    const reference = await submit('chaos-reference');
    const refDone = await sweepFinished(s.db, reference.id, 3_600_000);
    const referenceMinutes = (Date.now() - t0) / 60_000;
    if (refDone.status !== 'completed') throw new Error(`the reference sweep ended ${refDone.status}`);

    // 2. The faulted run.
    const t1 = Date.now();
    const sweep = await submit('chaos');
    const watch = new EpochWatch(s, sweep.id);
    const maxSeq = () =>
      patiently(async () => (await s.db.sweepEventRow.aggregate({ where: { sweepId: sweep.id }, _max: { seq: true } }))._max.seq ?? 0);
    /** Running trials of the sweep held by a live worker of ours with epochs to go, by worker name: the faults' candidates. */
    const candidates = async () => {
      const running = await s.db.trial.findMany({
        where: { sweepId: sweep.id, status: 'running', epochsDone: { gte: 1, lte: EPOCHS - MARGIN_EPOCHS } },
        select: { id: true, number: true, workerId: true, attempt: true, epochsDone: true },
      });
      return running
        .map((t) => ({ ...t, worker: w.byName(t.workerId) }))
        .filter((t) => t.worker !== undefined)
        .sort((a, b) => (a.workerId! < b.workerId! ? -1 : 1));
    };
    const sweepOver = async () => ['completed', 'failed', 'cancelled'].includes((await patiently(() => s.db.sweep.findUniqueOrThrow({ where: { id: sweep.id } }))).status);
    /** States of a worker host's connections that are inside a statement or a transaction, as PostgreSQL sees them. */
    const busyConnections = async (host: NetHost) =>
      (await s.db.$queryRaw<{ state: string }[]>`SELECT state FROM pg_stat_activity WHERE client_addr = ${host.nsAddress}::inet AND state <> 'idle'`).map((r) => r.state);

    const records: FaultRecord[] = [];
    const skipped: { index: number; kind: Kind; why: string }[] = [];
    for (const fault of plan) {
      await sleep(fault.gapMs);
      let targets: Awaited<ReturnType<typeof candidates>> = [];
      await pollUntil(async () => {
        targets = await candidates();
        return targets.length > 0 || (await sweepOver());
      }, 120_000, 200);
      if (targets.length === 0) {
        skipped.push({ index: fault.index, kind: fault.kind, why: 'no trial running with epochs to go' });
        continue;
      }
      const target = targets[Math.floor(fault.pick * targets.length)]!;
      const victim = target.worker!;
      const host = hosts[victim.slot]!;
      const before = await maxSeq();
      const injectedAt = Date.now();
      const record: FaultRecord = { index: fault.index, kind: fault.kind, atMs: injectedAt - t1, gapMs: fault.gapMs, holdMs: fault.holdMs, outageMs: 0, recoveryMs: -1, anyEpochMs: -1 };
      if (WORKER_KINDS.has(fault.kind)) Object.assign(record, { target: victim.proc.name, trial: target.number, trialEpochsDone: target.epochsDone });
      /** Holds the fault `holdMs`, then until another worker claimed the target's trial (at most TAKEOVER_WAIT_MS more). */
      const holdUntilTakeover = async () => {
        await sleep(fault.holdMs);
        record.lockWaitersAfterHold = (await server.lockWaiters(s.database.database.name)).length;
        return pollUntil(async () => {
          const t = await s.db.trial.findUniqueOrThrow({ where: { id: target.id }, select: { attempt: true, status: true } });
          return t.attempt > target.attempt || t.status !== 'running';
        }, TAKEOVER_WAIT_MS);
      };

      // `after`: the highest event id once the fault took hold (worker faults) or ended (service faults).
      let after = 0;
      switch (fault.kind) {
        case 'worker_kill9':
          w.end(victim, 'SIGKILL');
          await victim.proc.exited;
          after = await maxSeq();
          w.start(victim.slot);
          break;
        case 'worker_sigterm':
          w.end(victim, 'SIGTERM');
          record.exitCode = await victim.proc.exited;
          after = await maxSeq();
          w.start(victim.slot);
          break;
        case 'worker_pause':
          paused.add(victim.proc);
          victim.proc.child.kill('SIGSTOP');
          after = await maxSeq();
          record.busyConnectionsAtHit = await busyConnections(host);
          record.takenOverMeanwhile = await holdUntilTakeover();
          victim.proc.child.kill('SIGCONT');
          paused.delete(victim.proc);
          break;
        case 'worker_partition':
          await host.cut();
          after = await maxSeq();
          record.busyConnectionsAtHit = await busyConnections(host);
          record.takenOverMeanwhile = await holdUntilTakeover();
          await host.restore();
          break;
        case 'api_kill9':
          await s.stopApi('SIGKILL');
          await s.startApi();
          break;
        case 'redis_flushall':
          await s.redis.flushall();
          break;
        case 'redis_restart':
          await redisServer.kill();
          await sleep(fault.holdMs);
          await redisServer.restart();
          break;
        case 'pg_terminate':
          await server.terminateBackends();
          break;
        case 'pg_restart':
          await server.restart('immediate');
          break;
        case 'pg_stall':
          // Every backend of the sweep's database, the benchmark's own included (its reads wait too).
          stalled = await server.backendPids(s.database.database.name);
          server.signalBackends(stalled, 'SIGSTOP');
          await sleep(fault.holdMs);
          server.signalBackends(stalled, 'SIGCONT');
          stalled = [];
          break;
      }
      record.outageMs = Date.now() - injectedAt;
      // Recovery, in ms from the injection:
      // - worker faults: to the next epoch of the trial the hit worker held, whoever records it (the
      //   spare after a takeover, the worker itself after SIGCONT or the network's return);
      // - service faults (API, Redis, PostgreSQL): to the first epoch of any trial recorded after the
      //   service was back — after the restart, SIGCONT or the API's readiness; at once for FLUSHALL
      //   and terminated backends.
      // Epochs are read every POLL_MS, so a figure may carry up to that much (plus one read) on top.
      if (!WORKER_KINDS.has(fault.kind)) after = await maxSeq();
      const trialId = WORKER_KINDS.has(fault.kind) ? target.id : undefined;
      await pollUntil(() => watch.firstAfter(after, trialId) !== undefined, RECOVERY_DEADLINE_MS, 20);
      const seen = watch.firstAfter(after, trialId);
      if (seen) {
        record.recoveryMs = seen.at - injectedAt;
        const number = seen.trialId === target.id ? target.number : (await patiently(() => s.db.trial.findUniqueOrThrow({ where: { id: seen.trialId } }))).number;
        record.recoveredBy = { trial: number, epoch: seen.epoch, attempt: seen.attempt };
      }
      const any = watch.firstAfter(before);
      if (any) record.anyEpochMs = any.at - injectedAt;
      records.push(record);
      console.error(`[chaos] ${record.index} ${record.kind} ${record.target ?? ''} outage ${record.outageMs} ms, recovery ${record.recoveryMs} ms, any epoch ${record.anyEpochMs} ms`);
      // Three live workers again (a replacement up, a paused or cut-off one back) before the next fault.
      await w.allAlive(90_000);
    }

    const done = await sweepFinished(s.db, sweep.id, 3_600_000);
    const faultedMinutes = (Date.now() - t1) / 60_000;
    await watch.stop();

    // 3. What was stored.
    const [faulted, clean] = await patiently(() => Promise.all([storedTrials(s.db, sweep.id), storedTrials(s.db, reference.id)]));
    const cmp = compareRuns(clean, faulted);
    const [dupRows] = await s.db.$queryRaw<{ n: bigint }[]>`
      SELECT count(*) AS n FROM (SELECT 1 FROM metrics m JOIN trials t ON t.id = m.trial_id WHERE t.sweep_id = ${sweep.id}::uuid GROUP BY m.trial_id, m.name, m.step HAVING count(*) > 1) d`;
    const duplicateMetricRows = Number(dupRows?.n ?? 0);
    const startsOf = async (sweepId: string, trials: { id: string }[]) => {
      const events = await startedEvents(s.db, sweepId);
      return trials.map((t) => events.filter((e) => e.trialId === t.id).length);
    };
    const faultedStarts = await startsOf(sweep.id, faulted);
    const referenceStarts = await startsOf(reference.id, clean);
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    const numberOf = (trials: { id: string; number: number }[], id: string | null) => trials.find((t) => t.id === id)?.number ?? -1;
    const bestDiffers = numberOf(faulted, done.bestTrialId) !== numberOf(clean, refDone.bestTrialId) ? 1 : 0;
    const withoutTrialId = (result: unknown) => {
      const { trialId: _id, ...rest } = (result ?? {}) as { trialId?: string };
      return JSON.stringify(rest);
    };
    const testDiffers = withoutTrialId(done.testResult) !== withoutTrialId(refDone.testResult) ? 1 : 0;
    const logCounts = w.logCounts();
    // Before the stack's close stops the workers on purpose.
    const unexpectedExits = [...w.unexpectedExits];

    const metrics: Record<string, number> = {
      faults: records.length,
      fault_kinds: new Set(records.map((r) => r.kind)).size,
      lost: cmp.lost,
      gaps: cmp.gaps,
      duplicates: cmp.duplicateEvents + duplicateMetricRows,
      mismatched_values: cmp.mismatchedValues,
      failed_trials: faulted.filter((t) => t.status !== 'completed').length,
      restarts_per_trial: mean(faultedStarts) - 1,
      // Must be 0 too: sampled params, final values, the best trial and its test result as the reference's.
      mismatched_outcomes: cmp.mismatchedParams + cmp.mismatchedFinalValues + bestDiffers + testDiffers,
      extra_trials: cmp.extraTrials,
      unexpected_worker_exits: unexpectedExits.length,
      trial_failed_log_lines: logCounts['trial failed'] ?? 0,
      unrecovered_faults: records.filter((r) => r.recoveryMs < 0).length,
      sweep_completed: done.status === 'completed' ? 1 : 0,
      reference_restarts_per_trial: mean(referenceStarts) - 1,
      reference_minutes: referenceMinutes,
      faulted_minutes: faultedMinutes,
    };
    // Per kind: p50 (nearest rank) and max of the recovery times; -1 for a kind that was not injected (or never recovered).
    for (const kind of KINDS) {
      const times = records.filter((r) => r.kind === kind && r.recoveryMs >= 0).map((r) => r.recoveryMs);
      metrics[`recovery_ms_p50_${kind}`] = quantile(times, 0.5);
      metrics[`recovery_ms_max_${kind}`] = times.length ? Math.max(...times) : -1;
    }
    return {
      metrics,
      details: {
        definitions: {
          lost: 'reference (trial number, epoch) pairs with every training metric stored, of which the faulted run lacks a training metric; a missing trial counts all its epochs',
          gaps: 'faulted (trial, epoch) pairs, epoch in 1..max(epochsDone, highest stored step or epoch event), missing a training metric or its trial.epoch event',
          duplicates: 'trial.epoch events repeated for a (trial, epoch), trial numbers stored twice, and metric rows repeated for a (trial, name, step)',
          mismatched_values: 'training-metric values (train/val loss and accuracy, learning rate) at the same (trial number, metric, step) whose float64 bits differ from the reference',
          failed_trials: 'faulted-run trials whose status is not completed (FIFO: every trial trains all its epochs)',
          restarts_per_trial: 'mean over the faulted run\'s trials of (trial.started events - 1): deliveries after the first',
          recovery_ms:
            'worker faults: injection -> the next epoch of the trial the worker held, by any worker; service faults: injection -> the first epoch of any trial recorded after the service was back; epochs polled every 100 ms; -1: kind not injected',
          anyEpochMs: 'per fault: injection -> the first epoch of any trial (how long the whole sweep stalled)',
          busyConnectionsAtHit: 'pause / partition: states of the hit worker\'s non-idle PostgreSQL connections when it was hit (idle in transaction: it holds the row locks of an epoch write)',
          lockWaitersAfterHold: 'pause / partition: backends of the sweep\'s database waiting on a lock when the hold was over',
        },
        seed: SEED,
        rounds,
        sweep: { workers: WORKERS, concurrentTrials: CONCURRENT, trials: TRIALS, epochs: EPOCHS, spiralsCount: COUNT, jobLockMs: JOB_LOCK_MS, stalledCheckMs: STALLED_CHECK_MS },
        schedule: records,
        skipped,
        startsPerTrial: faultedStarts,
        referenceStartsPerTrial: referenceStarts,
        workerLogCounts: logCounts,
        unexpectedExits,
        notes: cmp.notes,
        duplicateMetricRows,
      },
    };
  } finally {
    // Leave nothing frozen or cut off, so every process can stop.
    if (stalled.length) pg?.signalBackends(stalled, 'SIGCONT');
    for (const p of paused) p.child.kill('SIGCONT');
    for (const host of hosts) await host.restore().catch(() => undefined);
    if (redis && !redis.running) await redis.restart().catch(() => undefined);
    await stack?.close().catch((error: unknown) => console.error('[chaos] closing the stack:', error));
    await redis?.stop().catch(() => undefined);
    await pg?.destroy().catch(() => undefined);
    for (const host of hosts) await host.destroy();
  }
}
