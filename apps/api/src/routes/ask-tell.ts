// Ask/tell (docs/ask-tell.md): a loop outside the workers leases the trials of an external sweep,
// reports each step (answered by the sweep's scheduler) and tells how the trial ended. Every write
// is fenced by the trial's claim; the lease in Redis is the loop's right to use that claim.
import { randomUUID } from 'node:crypto';
import {
  DbError,
  SearchTrialsCache,
  claimTrial,
  finishTrial,
  getSweep,
  getTrial,
  recordEpoch,
  releaseTrial,
  runnableTrials,
  type Sweep as SweepRow,
  type Trial as TrialRow,
  type TrialClaim,
} from '@hypersweep/db';
import { dropLease, endLease, readLease, renewLease, takeLease, type Lease } from '@hypersweep/queue';
import {
  ExternalSweepRequest,
  LeaseRequest,
  ReportRequest,
  SweepPathParams,
  TellRequest,
  TrialPathParams,
  requestKind,
  sweepSchedulerConfig,
  type AskResponse,
  type ReportResponse,
} from '@hypersweep/schemas';
import { createScheduler, schedulerVerdict } from '@hypersweep/search';
import { Router, type Request } from 'express';
import type { ApiDeps } from '../deps.ts';
import { HttpError } from '../errors.ts';
import { presentTrials } from '../present.ts';
import { parseJsonBody, parseParams } from '../validate.ts';
import { requireSweepAccess } from '../scope.ts';

/** The worker id of a trial claimed through a lease: the trial page shows who holds it. */
const holderOf = (leaseId: string): string => `lease-${leaseId}`;
const TERMINAL_SWEEP: ReadonlySet<string> = new Set(['completed', 'failed', 'cancelled']);
/** How long a loop asking a paused sweep waits before it asks again. */
const PAUSED_RETRY_AFTER_S = 5;

export function askTellRoutes(deps: ApiDeps): Router {
  const { db, redis, logger } = deps;
  const prefix = deps.config.queuePrefix;
  const router = Router();
  // The sweeps' trials as the scheduler sees them, brought up to date from their event logs.
  const search = new SearchTrialsCache(db);

  /** Asking, reporting and telling are the submit role's, in the sweep's project. */
  const externalSweep = async (req: Request, sweepId: string): Promise<{ row: SweepRow; spec: ExternalSweepRequest }> => {
    await requireSweepAccess(db, req, sweepId, 'submit');
    const row = await getSweep(db, sweepId);
    if (!row) throw new HttpError('not_found', `no sweep ${sweepId}`, [{ path: 'sweepId', message: 'no such sweep' }]);
    if (requestKind(row.spec) !== 'external') {
      throw new HttpError('invalid_state', `sweep ${sweepId} is not an external sweep: its trials run on the workers`, [{ path: 'sweepId', message: 'not an ask/tell sweep' }]);
    }
    return { row, spec: ExternalSweepRequest.parse(row.spec) };
  };
  const advance = async (sweepId: string): Promise<void> => {
    try {
      await deps.queues.enqueueSweepAdvance({ sweepId, reason: 'trial-ended' });
    } catch (error) {
      logger.warn({ err: error, sweepId }, 'could not enqueue a sweep advance; the reconciler will');
    }
  };
  const lost = (trialId: string, why: string) => new HttpError('conflict', `the lease of trial ${trialId} is lost: ${why}`, [{ path: 'leaseId', message: why }]);

  /** The trial, its sweep and the caller's lease, which must still hold. */
  const leased = async (req: Request, params: { sweepId: string; trialId: string }, leaseId: string) => {
    const { row: sweep, spec } = await externalSweep(req, params.sweepId);
    const trial = await getTrial(db, params.trialId);
    if (!trial || trial.sweepId !== sweep.id) throw new HttpError('not_found', `no trial ${params.trialId} in sweep ${sweep.id}`, [{ path: 'trialId', message: 'no such trial in this sweep' }]);
    const lease = await readLease(redis, prefix, trial.id);
    if (!lease || lease.leaseId !== leaseId) throw lost(trial.id, 'it lapsed, or the trial was retried under another lease');
    const claim: TrialClaim = { trialId: trial.id, attempt: lease.attempt, workerId: holderOf(leaseId) };
    return { sweep, spec, trial, lease, claim, ttlMs: spec.external.leaseSeconds * 1000 };
  };

  router.post('/sweeps/:sweepId/ask', async (req, res) => {
    const { sweepId } = parseParams(SweepPathParams, req);
    const { row: sweep, spec } = await externalSweep(req, sweepId);
    if (TERMINAL_SWEEP.has(sweep.status)) throw new HttpError('invalid_state', `sweep ${sweepId} is ${sweep.status}`, [{ path: 'sweepId', message: `the sweep is ${sweep.status}` }]);
    // Paused: nothing starts (leases already held run on, as the workers' trials do not). The loop
    // waits as for "no trial ready yet" and gets trials again once the sweep is resumed.
    const paused = () => void res.status(204).setHeader('Retry-After', String(PAUSED_RETRY_AFTER_S)).end();
    if (sweep.status === 'paused') return paused();
    const ttlMs = spec.external.leaseSeconds * 1000;
    for (const candidate of await runnableTrials(db, { sweepId })) {
      if (candidate.status !== 'queued') continue;
      // The lease first (SET NX: one asker per trial), then the claim; the reconciler never sees a
      // leased trial running without its lease.
      const leaseId = randomUUID();
      const lease: Lease = { leaseId, attempt: candidate.attempt + 1 };
      if (!(await takeLease(redis, prefix, candidate.id, lease, ttlMs))) continue;
      const claimed = await claimTrial(db, candidate.id, holderOf(leaseId)).catch(async (error: unknown) => {
        await dropLease(redis, prefix, candidate.id, leaseId);
        throw error;
      });
      if (!claimed.changed || !claimed.row) {
        await dropLease(redis, prefix, candidate.id, leaseId);
        continue;
      }
      const trial = claimed.row;
      if (claimed.claim && (await getSweep(db, sweepId))?.status === 'paused') {
        // Paused between the status read above and the claim: hand the trial back unstarted.
        await releaseTrial(db, claimed.claim);
        await dropLease(redis, prefix, candidate.id, leaseId);
        return paused();
      }
      if (trial.attempt !== lease.attempt) await renewLease(redis, prefix, trial.id, { leaseId, attempt: trial.attempt }, ttlMs);
      const body: AskResponse = {
        trial: {
          id: trial.id,
          number: trial.number,
          params: trial.params as AskResponse['trial']['params'],
          attempt: trial.attempt,
          startStep: trial.epochsDone,
          maxSteps: spec.external.maxSteps,
          objective: spec.objective,
        },
        lease: { id: leaseId, expiresAt: new Date(Date.now() + ttlMs).toISOString(), leaseSeconds: spec.external.leaseSeconds },
      };
      logger.info({ sweepId, trialId: trial.id, attempt: trial.attempt }, 'trial leased');
      res.json(body);
      return;
    }
    // Nothing queued: the sweep may need new trials (its budget allows) or is waiting on running ones.
    await advance(sweepId);
    res.status(204).setHeader('Retry-After', '1').end();
  });

  router.post('/sweeps/:sweepId/trials/:trialId/heartbeat', async (req, res) => {
    const { leaseId } = parseJsonBody(LeaseRequest, req);
    const { trial, lease, ttlMs } = await leased(req, parseParams(TrialPathParams, req), leaseId);
    if (lease.ended) throw lost(trial.id, `the trial has ended (${lease.ended})`);
    // Ended in Postgres (a user's stop, the sweep's cancel) or taken by another lease: the loop stops.
    if (trial.status !== 'running' || trial.workerId !== holderOf(leaseId)) throw lost(trial.id, `the trial has ended (${trial.status})`);
    if (!(await renewLease(redis, prefix, trial.id, lease, ttlMs))) throw lost(trial.id, 'it lapsed');
    res.json({ expiresAt: new Date(Date.now() + ttlMs).toISOString() });
  });

  router.post('/sweeps/:sweepId/trials/:trialId/report', async (req, res) => {
    const body = parseJsonBody(ReportRequest, req);
    const { sweep, spec, trial, lease, claim, ttlMs } = await leased(req, parseParams(TrialPathParams, req), body.leaseId);
    if (lease.ended) throw lost(trial.id, `the trial has ended (${lease.ended})`);
    const objective = spec.objective.metric;
    const maxSteps = spec.external.maxSteps;
    if (body.step <= trial.epochsDone) throw new HttpError('conflict', `step ${body.step} of trial ${trial.id} is already stored`, [{ path: 'step', message: `steps 1..${trial.epochsDone} are stored; report ${trial.epochsDone + 1}` }]);
    if (body.step !== trial.epochsDone + 1) throw new HttpError('invalid_request', `step ${body.step} is out of order`, [{ path: 'step', message: `expected ${trial.epochsDone + 1}` }]);
    if (body.step > maxSteps) throw new HttpError('invalid_request', `step ${body.step} is past maxSteps`, [{ path: 'step', message: `at most external.maxSteps (${maxSteps})` }]);
    const value = body.metrics[objective];
    if (value === undefined) throw new HttpError('invalid_request', `the report lacks the objective ${objective}`, [{ path: `metrics.${objective}`, message: 'every report carries the objective metric' }]);
    try {
      // The order checks above read before the locks; `next` checks again under them, so of
      // concurrent reports of one step exactly one is stored.
      await recordEpoch(db, claim, body.step, body.metrics, { next: true });
    } catch (error) {
      if (error instanceof DbError && error.code === 'unique_violation') throw new HttpError('conflict', error.message, [{ path: 'step', message: 'is already stored' }]);
      throw error;
    }
    if (!(await renewLease(redis, prefix, trial.id, lease, ttlMs))) throw lost(trial.id, 'it lapsed');
    let answer: ReportResponse;
    if (body.step >= maxSteps) {
      answer = { decision: 'stop', reason: `reached maxSteps (${maxSteps})` };
      await finishTrial(db, claim, 'completed', { finalValue: value });
      await endLease(redis, prefix, trial.id, lease, 'completed', ttlMs);
      await advance(sweep.id);
    } else {
      const verdict = schedulerVerdict(createScheduler(sweepSchedulerConfig(spec)), await search.trials(sweep.id), trial.number, objective);
      answer = verdict.decision === 'stop' ? { decision: 'stop', reason: verdict.reason } : { decision: 'continue' };
      if (verdict.decision === 'stop') {
        await finishTrial(db, claim, 'stopped', { finalValue: value, reason: verdict.reason });
        await endLease(redis, prefix, trial.id, lease, 'stopped', ttlMs);
        await advance(sweep.id);
      }
    }
    res.json(answer);
  });

  router.post('/sweeps/:sweepId/trials/:trialId/tell', async (req, res) => {
    const body = parseJsonBody(TellRequest, req);
    if (body.error !== undefined && body.status !== 'failed') {
      throw new HttpError('invalid_request', 'an error is told only with status failed', [{ path: 'error', message: `only with status failed (the status is ${body.status})` }]);
    }
    const { sweep, spec, trial, lease, claim } = await leased(req, parseParams(TrialPathParams, req), body.leaseId);
    if (!lease.ended) {
      // The final value is the objective of the last step reported.
      const last = await db.metric.findFirst({ where: { trialId: trial.id, name: spec.objective.metric }, orderBy: { step: 'desc' }, select: { value: true } });
      try {
        await finishTrial(db, claim, body.status, body.status === 'failed' ? { error: body.error ?? 'failed (told by its loop)', finalValue: last?.value ?? null } : { finalValue: last?.value ?? null });
      } catch (error) {
        // Ended meanwhile (a user's stop, the sweep's cancel): the answer is the trial as it ended.
        if (!(error instanceof DbError && error.code === 'claim_lost')) throw error;
      }
      await advance(sweep.id);
    }
    await dropLease(redis, prefix, trial.id, lease.leaseId);
    const now = (await getTrial(db, trial.id)) as TrialRow;
    res.json({ trial: presentTrials([now])[0] });
  });

  return router;
}
