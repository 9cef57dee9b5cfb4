// Sweeps and their trials: submit (idempotent), list, get, cancel, pause/resume, budget changes,
// enqueued configurations, delete; trials list/detail/stop; metrics.
import {
  DbError,
  USER_STOP_REASON,
  cancelSweep,
  createSweep,
  deleteSweep,
  enqueueTrials,
  withSweepLock,
  pauseSweep,
  resumeSweep,
  sweepStorage,
  updateSweepBudget,
  finishTrial,
  getProjectByName,
  getSweep,
  getTrial,
  listSweeps,
  metricSeries,
  type Prisma,
  type ProjectRole,
  type Trial as TrialRow,
} from '@hypersweep/db';
import { jsonEqual } from '@hypersweep/nn';
import { listWorkers, publishCancel } from '@hypersweep/queue';
import {
  EnqueueTrialsRequest,
  FINISHED_SWEEP_STATUSES,
  IdempotencyKey,
  SweepRequest,
  UpdateSweepRequest,
  SchemaError,
  tryResolvedTrialSpec,
  isBuiltinSweep,
  requestKind,
  ListSweepsQuery,
  ListTrialsQuery,
  MetricsQuery,
  SweepCurvesQuery,
  SweepPathParams,
  TrialPathParams,
  checkTrainable,
  encodeCursor,
} from '@hypersweep/schemas';
import { SearchError, parseSpace, validateParams } from '@hypersweep/search';
import { Router, type Request } from 'express';
import { forgetSweep, noSuchSweep, requireSweepAccess, targetProject, visibleProjectIds } from '../scope.ts';
import { datasetFacts, validationSplitProblems } from '../dataset-facts.ts';
import { WORKER_ALIVE_MS } from './meta.ts';
import type { ApiDeps } from '../deps.ts';
import { HttpError } from '../errors.ts';
import { presentSweepFull, presentSweeps, presentTrials } from '../present.ts';
import { sendCachedJson, sweepReads } from '../sweep-reads.ts';
import { parseHeader, parseJsonBody, parseParams, parseQuery } from '../validate.ts';

export function sweepRoutes(deps: ApiDeps): Router {
  const { db, queues, logger } = deps;
  const router = Router();
  const reads = sweepReads(deps);

  /** The sweep, when the token sees it (else 404) with the role `need` (else 403). */
  const requireSweep = async (req: Request, sweepId: string, need: ProjectRole) => {
    await requireSweepAccess(db, req, sweepId, need);
    const sweep = await getSweep(db, sweepId);
    if (!sweep) throw noSuchSweep(sweepId);
    return sweep;
  };
  const requireTrial = async (req: Request, need: ProjectRole): Promise<TrialRow> => {
    const { sweepId, trialId } = parseParams(TrialPathParams, req);
    await requireSweepAccess(db, req, sweepId, need);
    const trial = await getTrial(db, trialId);
    if (!trial || trial.sweepId !== sweepId) throw new HttpError('not_found', `no trial ${trialId} in sweep ${sweepId}`, [{ path: 'trialId', message: 'no such trial in this sweep' }]);
    return trial;
  };
  /** Asks a worker to advance the sweep; a lost request is repaired by the reconciler. */
  const advance = async (sweepId: string, reason: 'started' | 'trial-ended' | 'cancelled') => {
    try {
      await queues.enqueueSweepAdvance({ sweepId, reason });
    } catch (error) {
      logger.warn({ err: error, sweepId }, 'could not enqueue a sweep advance; the reconciler will');
    }
  };

  router.post('/sweeps', async (req, res) => {
    const projectId = await targetProject(db, req, 'submit');
    const key = parseHeader(IdempotencyKey, req, 'Idempotency-Key');
    const spec = parseJsonBody(SweepRequest, req);
    if (isBuiltinSweep(spec)) {
      const facts = await datasetFacts(db, spec.dataset, projectId);
      if (!facts) {
        throw new HttpError('invalid_request', `no dataset ${spec.dataset.type === 'csv' || spec.dataset.type === 'idx' ? spec.dataset.id : spec.dataset.type}`, [
          { path: 'dataset.id', message: 'no such dataset (upload it with POST /api/v1/datasets)' },
        ]);
      }
      // Refused now rather than failing one trial at a time on the workers.
      const untrainable = [...checkTrainable(spec, facts, deps.config.trialLimits), ...validationSplitProblems(spec, facts)];
      if (untrainable.length > 0) {
        const first = untrainable[0]!;
        throw new HttpError('invalid_request', `the sweep cannot train: ${first.path}: ${first.message}`, untrainable);
      }
    } else if ('trainable' in spec) {
      // Refused rather than queued for a worker that may never come (docs/trainables.md).
      const name = spec.trainable.name;
      const { workers } = await listWorkers(deps.redis, deps.config.queuePrefix, { aliveWithinMs: WORKER_ALIVE_MS });
      if (!workers.some((w) => w.alive && (w.trainables ?? []).includes(name))) {
        throw new HttpError('invalid_request', `no live worker offers the trainable ${name}`, [
          { path: 'trainable.name', message: `no live worker offers ${JSON.stringify(name)} (a worker lists its trainables in WORKER_TRAINABLES)` },
        ]);
      }
    }
    // JSON round trip: the stored spec has no undefined members, so a retry compares equal.
    const stored = JSON.parse(JSON.stringify(spec)) as Prisma.InputJsonValue;
    const { sweep, created } = await createSweep(db, {
      name: spec.name,
      spec: stored,
      seed: spec.search.seed,
      objective: spec.objective,
      budget: spec.search.budget as unknown as Prisma.InputJsonValue,
      idempotencyKey: key ?? null,
      projectId,
    });
    if (!created && !jsonEqual(sweep.spec, stored)) {
      throw new HttpError('idempotency_conflict', 'this Idempotency-Key was used for a different sweep', [
        { path: 'headers.Idempotency-Key', message: `already used for sweep ${sweep.id} with another body` },
      ]);
    }
    if (created) {
      logger.info({ sweepId: sweep.id, name: sweep.name }, 'sweep submitted');
      await advance(sweep.id, 'started');
    }
    res.status(created ? 201 : 200).location(`/api/v1/sweeps/${sweep.id}`).json(await presentSweepFull(db, sweep));
  });

  router.get('/sweeps', async (req, res) => {
    const q = parseQuery(ListSweepsQuery, req);
    let projectIds = visibleProjectIds(req);
    if (q.project !== undefined) {
      const project = await getProjectByName(db, q.project);
      if (!project || (projectIds && !projectIds.includes(project.id))) throw new HttpError('not_found', `no project ${q.project}`, [{ path: 'project', message: 'no such project' }]);
      projectIds = [project.id];
    }
    const page = await listSweeps(db, { limit: q.limit, cursor: q.cursor ?? null, sort: q.sort, order: q.order, ...(q.status ? { status: q.status } : {}), ...(projectIds ? { projectIds } : {}) });
    res.json({ items: await presentSweeps(db, page.items), nextCursor: page.nextCursor ? encodeCursor(page.nextCursor) : null });
  });

  router.get('/sweeps/:sweepId', async (req, res) => {
    const { sweepId } = parseParams(SweepPathParams, req);
    await requireSweepAccess(db, req, sweepId, 'read');
    sendCachedJson(req, res, await reads.sweep(sweepId));
  });

  router.get('/sweeps/:sweepId/curves', async (req, res) => {
    const { sweepId } = parseParams(SweepPathParams, req);
    const q = parseQuery(SweepCurvesQuery, req);
    await requireSweepAccess(db, req, sweepId, 'read');
    sendCachedJson(req, res, await reads.curves(sweepId, q));
  });

  router.post('/sweeps/:sweepId/cancel', async (req, res) => {
    const { sweepId } = parseParams(SweepPathParams, req);
    const row = await requireSweep(req, sweepId, 'submit');
    // An external sweep's running trials are held by leases: no worker would end them.
    const result = await cancelSweep(db, sweepId, { endRunning: requestKind(row.spec) === 'external' });
    reads.invalidate(sweepId);
    if (!result.sweep) throw noSuchSweep(sweepId);
    if (!result.changed) {
      throw new HttpError('invalid_state', `sweep ${sweepId} is ${result.sweep.status}; it cannot be cancelled`, [{ path: 'sweepId', message: 'already finished' }]);
    }
    logger.info({ sweepId, cancelledQueued: result.cancelledTrials }, 'sweep cancelled');
    await publishCancel({ connection: deps.redis, prefix: deps.config.queuePrefix }, { scope: 'sweep', sweepId }).catch((error: unknown) => {
      logger.warn({ err: error, sweepId }, 'cancel signal not published; workers will see it in Postgres');
    });
    res.json(await presentSweepFull(db, result.sweep));
  });

  /** An invalid_state 409 for a control the sweep's status does not allow; a 404 once it is deleted. */
  const notNow = (sweepId: string, status: string | undefined, what: string) =>
    status === undefined ? noSuchSweep(sweepId) : new HttpError('invalid_state', `sweep ${sweepId} is ${status}; it cannot be ${what}`, [{ path: 'sweepId', message: `the sweep is ${status}` }]);

  router.post('/sweeps/:sweepId/pause', async (req, res) => {
    const { sweepId } = parseParams(SweepPathParams, req);
    await requireSweepAccess(db, req, sweepId, 'submit');
    const result = await pauseSweep(db, sweepId);
    reads.invalidate(sweepId);
    if (!result.changed || !result.sweep) throw notNow(sweepId, result.sweep?.status, 'paused');
    logger.info({ sweepId }, 'sweep paused');
    res.json(await presentSweepFull(db, result.sweep));
  });

  router.post('/sweeps/:sweepId/resume', async (req, res) => {
    const { sweepId } = parseParams(SweepPathParams, req);
    await requireSweepAccess(db, req, sweepId, 'submit');
    const result = await resumeSweep(db, sweepId);
    reads.invalidate(sweepId);
    if (!result.changed || !result.sweep) throw notNow(sweepId, result.sweep?.status, 'resumed');
    logger.info({ sweepId }, 'sweep resumed');
    await advance(sweepId, 'started');
    res.json(await presentSweepFull(db, result.sweep));
  });

  router.patch('/sweeps/:sweepId', async (req, res) => {
    const { sweepId } = parseParams(SweepPathParams, req);
    await requireSweepAccess(db, req, sweepId, 'submit');
    const { budget } = parseJsonBody(UpdateSweepRequest, req);
    // After the counts, the sweep with its new budget must still be a valid sweep (e.g.
    // maxTotalEpochs ≥ training.epochs, maxConcurrentTrials ≤ maxTrials).
    const result = await updateSweepBudget(db, sweepId, budget, (current, merged) => {
      const stored = current.spec as { search?: { budget?: object } };
      const checked = SweepRequest.safeParse({ ...stored, search: { ...stored.search, budget: { ...stored.search?.budget, ...merged } } });
      if (checked.success) return [];
      const issues = checked.error.issues.filter((i) => i.path[0] === 'search' && i.path[1] === 'budget');
      return (issues.length > 0 ? issues : checked.error.issues.slice(0, 1)).map((i) => ({ field: i.path.slice(2).join('.') || 'budget', message: i.message }));
    });
    reads.invalidate(sweepId);
    if (!result.sweep) throw noSuchSweep(sweepId);
    if (result.finished) throw notNow(sweepId, result.sweep.status, 'changed');
    if (result.refused.length > 0) {
      const details = result.refused.map((r) => ({ path: r.field === 'budget' ? 'budget' : `budget.${r.field}`, message: r.message }));
      throw new HttpError('invalid_request', `the sweep cannot have this budget: ${details[0]!.path} ${details[0]!.message}`, details);
    }
    logger.info({ sweepId, budget }, 'sweep budget changed');
    // A raised budget may let the sweep start trials now (or a lowered one end it).
    await advance(sweepId, 'trial-ended');
    res.json(await presentSweepFull(db, result.sweep));
  });

  router.post('/sweeps/:sweepId/trials', async (req, res) => {
    const { sweepId } = parseParams(SweepPathParams, req);
    const sweep = await requireSweep(req, sweepId, 'submit');
    const body = parseJsonBody(EnqueueTrialsRequest, req);
    if (FINISHED_SWEEP_STATUSES.has(sweep.status)) throw notNow(sweepId, sweep.status, 'given trials');
    const spec = SweepRequest.parse(sweep.spec);
    const space = parseSpace(spec.search.space);
    // Every configuration checked before any is stored: all or none.
    const problems = body.params.flatMap((params, i) => {
      // Unknown names first: a misspelt parameter is named, not only the one it was meant to be.
      const unknown = Object.keys(params).filter((name) => !space.byName.has(name));
      if (unknown.length > 0) return unknown.map((name) => ({ path: `params[${i}].${name}`, message: 'is not a parameter of the search space' }));
      try {
        validateParams(space, params);
        return [];
      } catch (error) {
        if (error instanceof SearchError) return [{ path: error.path ? `params[${i}].${error.path}` : `params[${i}]`, message: error.message }];
        throw error;
      }
    });
    if (problems.length > 0) throw new HttpError('invalid_request', `a configuration is outside the search space: ${problems[0]!.path}: ${problems[0]!.message}`, problems);
    // A configuration inside the space can still make a spec the engine refuses (a templated
    // field that takes integers, say): refused here rather than failed by a worker.
    const builtin = isBuiltinSweep(spec);
    const resolved = body.params.map((params) => (builtin ? tryResolvedTrialSpec(spec, params) : null));
    const unbuildable = resolved.flatMap((r, i) => (r instanceof SchemaError ? r.details.map((d) => ({ path: `params[${i}]`, message: `makes a trial spec the engine refuses: ${d.path}: ${d.message}` })) : []));
    if (unbuildable.length > 0) throw new HttpError('invalid_request', `a configuration cannot be trained: ${unbuildable[0]!.path}: ${unbuildable[0]!.message}`, unbuildable);
    // Under the sweep's advisory lock, as the sampler's advance counts and creates trials: an
    // addition between its count and its inserts would take the sweep past maxTrials.
    const inputs = body.params.map((params, i) => ({ params, resolved: resolved[i] as Prisma.InputJsonValue | null }));
    // One connection: the additions run in the lock's own transaction.
    const result = await withSweepLock(db, sweepId, (tx) => enqueueTrials(tx, sweepId, inputs));
    if (result.overBudget) {
      const { trials, maxTrials } = result.overBudget;
      throw new HttpError('invalid_state', `the sweep has ${trials} of its ${maxTrials} trials: raise budget.maxTrials (PATCH) to add ${body.params.length}`, [
        { path: 'budget.maxTrials', message: `${trials} + ${body.params.length} would exceed ${maxTrials}` },
      ]);
    }
    const created = result.created;
    reads.invalidate(sweepId);
    logger.info({ sweepId, trials: created.length }, 'configurations enqueued');
    await advance(sweepId, 'trial-ended');
    res.status(201).json({ items: presentTrials(created) });
  });

  router.get('/sweeps/:sweepId/storage', async (req, res) => {
    const { sweepId } = parseParams(SweepPathParams, req);
    await requireSweepAccess(db, req, sweepId, 'read', { exists: true });
    res.json(await sweepStorage(db, sweepId));
  });

  router.delete('/sweeps/:sweepId', async (req, res) => {
    const { sweepId } = parseParams(SweepPathParams, req);
    await requireSweepAccess(db, req, sweepId, 'submit');
    const result = await deleteSweep(db, sweepId).catch((error: unknown) => {
      if (error instanceof DbError && error.code === 'illegal_transition') throw new HttpError('invalid_state', error.message, [{ path: 'sweepId', message: 'cancel the sweep first' }]);
      throw error;
    });
    reads.invalidate(sweepId);
    forgetSweep(sweepId);
    if (!result.deleted) throw noSuchSweep(sweepId);
    logger.info({ sweepId }, 'sweep deleted');
    res.status(204).end();
  });

  router.get('/sweeps/:sweepId/trials', async (req, res) => {
    const { sweepId } = parseParams(SweepPathParams, req);
    const q = parseQuery(ListTrialsQuery, req);
    await requireSweepAccess(db, req, sweepId, 'read');
    sendCachedJson(req, res, await reads.trials(sweepId, q));
  });

  router.get('/sweeps/:sweepId/trials/:trialId', async (req, res) => {
    const trial = await requireTrial(req, 'read');
    const [presented] = presentTrials([trial]);
    res.json({ ...presented, resolved: trial.resolved ?? null });
  });

  router.post('/sweeps/:sweepId/trials/:trialId/stop', async (req, res) => {
    const trial = await requireTrial(req, 'submit');
    // A queued trial never ran: it is cancelled. A running one is stopped; its worker sees it.
    const result =
      trial.status === 'queued'
        ? await finishTrial(db, trial.id, 'cancelled', { reason: USER_STOP_REASON })
        : trial.status === 'running'
          ? await finishTrial(db, trial.id, 'stopped', { reason: USER_STOP_REASON })
          : { changed: false, row: trial };
    reads.invalidate(trial.sweepId);
    if (!result.changed || !result.row) {
      throw new HttpError('invalid_state', `trial ${trial.id} is ${result.row?.status ?? 'gone'}; it cannot be stopped`, [{ path: 'trialId', message: 'already finished' }]);
    }
    // Both best effort and independent: side by side, a silent Redis costs one command timeout.
    await Promise.all([
      publishCancel({ connection: deps.redis, prefix: deps.config.queuePrefix }, { scope: 'trial', sweepId: trial.sweepId, trialId: trial.id }).catch(
        (error: unknown) => logger.warn({ err: error, trialId: trial.id }, 'stop signal not published; the worker will see it in Postgres'),
      ),
      advance(trial.sweepId, 'trial-ended'),
    ]);
    const [presented] = presentTrials([result.row]);
    res.json(presented);
  });

  router.get('/sweeps/:sweepId/trials/:trialId/metrics', async (req, res) => {
    const q = parseQuery(MetricsQuery, req);
    const trial = await requireTrial(req, 'read');
    res.json(
      await metricSeries(db, trial.id, q.names ?? [], {
        maxPoints: q.maxPoints,
        ...(q.fromStep !== undefined ? { fromStep: q.fromStep } : {}),
        ...(q.toStep !== undefined ? { toStep: q.toStep } : {}),
      }),
    );
  });

  return router;
}
