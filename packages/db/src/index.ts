// Public API of @hypersweep/db: the only package that imports the Prisma client.
export { CONNECT_TIMEOUT_MS, createDb, inTransaction, isUuid, transactionOptions, type Db, type DbClient, type CreateDbOptions } from './client.ts';
export {
  applyMigrations,
  diffMigrationsAgainstSchema,
  defaultMigrationsDir,
  defaultSchemaPath,
  type ApplyMigrationsOptions,
  type ApplyMigrationsResult,
} from './migrate.ts';
export { DbError, toDbError, dbErrorOf, isTransientDbError, mapDbErrors, isUniqueViolation, type DbErrorCode, type DbErrorOptions } from './errors.ts';
export { retryTransient, type RetryTransientOptions } from './retry.ts';
export { claimOf, type TrialClaim, type TrialTarget } from './claims.ts';
export { Prisma } from './generated/prisma/client.ts';
export type { ApiToken, Dataset, Sweep, Trial, Metric, Checkpoint, SweepEventRow } from './generated/prisma/client.ts';
export { DatasetKind, ObjectiveMode, ProjectRole, SweepStatus, TrialStatus } from './generated/prisma/enums.ts';
export {
  SWEEP_TRANSITIONS,
  TRIAL_TRANSITIONS,
  TERMINAL_SWEEP_STATUSES,
  TERMINAL_TRIAL_STATUSES,
  canTransition,
  assertTransition,
  legalSources,
  setSweepStatus,
  setTrialStatus,
  type Entity,
  type TransitionOptions,
  type TransitionResult,
  type SetSweepStatusOptions,
  type SetTrialStatusOptions,
} from './states.ts';
export {
  createSweep,
  getSweep,
  listSweeps,
  trialCounts,
  setBestTrial,
  recordTestResult,
  lockSweep,
  cancelSweep,
  type CancelSweepResult,
  type CreateSweepInput,
  type CreateSweepResult,
  type ListSweepsOptions,
  type KeysetCursor,
  type Page,
  type TrialCounts,
  type SetBestResult,
} from './sweeps.ts';
export {
  createTrial,
  getTrial,
  claimTrial,
  releaseTrial,
  finishTrial,
  retryTrial,
  recordEpoch,
  recordEpochs,
  listTrials,
  trialsForSearch,
  runnableTrials,
  type ClaimResult,
  type CreateTrialInput,
  type FinishedTrialStatus,
  type FinishTrialOptions,
  type EpochRecord,
  type RecordEpochResult,
  type TrialSort,
  type ListTrialsOptions,
  type FrozenTrialRecord,
  type RunnableTrial,
} from './trials.ts';
export { metricSeries, latestMetrics, sweepCurves, lttb, type SweepCurvesResult, type MetricPoint, type MetricSeriesItem, type MetricSeriesResult, type MetricSeriesOptions } from './metrics.ts';
export { saveCheckpoint, latestCheckpoint, pruneCheckpoints, retainFinishedCheckpoints, sweepStorage, type SweepStorage } from './checkpoints.ts';
export {
  createApiToken,
  verifyApiToken,
  revokeApiToken,
  listApiTokens,
  getApiToken,
  hashApiToken,
  type ApiTokenInfo,
  type CreatedApiToken,
  type CreateApiTokenInput,
  type TokenGrantInfo,
} from './tokens.ts';
export { pauseSweep, resumeSweep, updateSweepBudget, recordEnqueued, enqueueTrials, deleteSweep, type BudgetChange, type BudgetRefusal, type ControlResult, type EnqueueResult } from './control.ts';
export {
  DEFAULT_PROJECT_ID,
  DEFAULT_PROJECT_NAME,
  QUOTA_NAMES,
  QuotaExceeded,
  createProject,
  getProject,
  getProjectByName,
  listProjects,
  updateProjectQuotas,
  projectUsage,
  projectOfSweep,
  withProjectLock,
  countProjectTrials,
  type ProjectInfo,
  type ProjectUsage,
  type QuotaName,
  type Quotas,
} from './projects.ts';
export { SearchTrialsCache, type SearchTrialsCacheOptions, type SearchTrialsCacheStats } from './search-cache.ts';
export { withSweepLock, sweepLockKey, type SweepLockOptions } from './locks.ts';
export {
  SWEEP_EVENTS_CHANNEL,
  USER_STOP_REASON,
  SWEEP_CANCELLED_REASON,
  appendSweepEvent,
  appendSweepUpdated,
  sweepEventsAfter,
  type SweepEventType,
  type StoredSweepEvent,
} from './events.ts';
export {
  listenSweepEvents,
  parseSweepEventPayload,
  type ListenSweepEventsOptions,
  type SweepEventListener,
  type SweepEventNotification,
} from './listen.ts';
export { sweepSnapshots, sweepSnapshotIn, type SweepSnapshot, type SweepProgressSnapshot, type BestTrialSnapshot } from './snapshot.ts';
export { createDataset, getDataset, listDatasets, type CreateDatasetInput } from './datasets.ts';
