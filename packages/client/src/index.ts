// Public API of @hypersweep/client: the typed client of the REST API and its event stream, the
// SSE follower it is built on, the sweep-event decoder, the trials CSV table, and ask/tell.
// The trainable helpers (Node only) are the subpath '@hypersweep/client/trainable'.
export { HypersweepClient, paginate } from './client.ts';
export type {
  ApiTokenList,
  CallOptions,
  CsvUploadOptions,
  DatasetList,
  HypersweepClientOptions,
  IdxUpload,
  ListSweepsParams,
  ListTrialsParams,
  MetricsParams,
  OpenApiDocument,
  SweepEventsOptions,
  SweepStreamItem,
  TrialModelExport,
} from './client.ts';
export { ApiError, describeError, type ApiErrorCodeOrClient, type ClientErrorCode } from './errors.ts';
export { followSse, readBody, reconnectDelay, type FollowSseOptions, type SseConnect, type SseConnectRequest, type SseDisconnect, type SseMessage } from './sse.ts';
export { decodeSweepEvents, fastEpochEvent, type DecodedSweepEvents, type RejectedMessage, type SweepEventFilter } from './sweep-events.ts';
export { TRIAL_BASE_COLUMNS, csvField, toCsv, trialTable, trialTableCsv, type CsvValue, type TrialTable } from './csv.ts';
export { AskAnswer, HeartbeatAnswer, ReportDecision, TellAnswer, type AskResult, type AskedTrial, type ReportRequest, type TellRequest } from './ask-tell.ts';
// The statuses after which nothing changes, with the schemas they belong to.
export { FINISHED_SWEEP_STATUSES, FINISHED_TRIAL_STATUSES } from '@hypersweep/schemas';
// Token management with project grants (the `hypersweep token` commands), and who the caller is.
export { TOKEN_ROLES, createToken, listTokens, revokeToken, whoAmI, type CreateTokenRequest, type CreatedToken, type TokenRecord, type TokenRole, type WhoAmI } from './tokens.ts';
// Projects with their quotas and usage (the dashboard's Access page).
export { QUOTA_NAMES, createProject, getProject, listProjects, updateProjectQuotas, type CreateProjectInput, type Project, type QuotaChange, type QuotaName } from './projects.ts';
// Control of a running sweep (the `hypersweep pause|resume|budget|enqueue|delete` commands) and its sweep.control events.
export {
  MAX_ENQUEUED_CONFIGURATIONS,
  SWEEP_CONTROL_ACTIONS,
  deleteSweep,
  describeSweepControl,
  enqueueTrials,
  pauseSweep,
  resumeSweep,
  sweepControlOf,
  updateSweepBudget,
  type BudgetChange,
  type SweepControl,
  type SweepControlAction,
  type TrialConfiguration,
} from './sweep-control.ts';
