// The Access page's logic, as pure functions: who the caller is (GET /me) → the controls it is
// offered, quota forms → the bodies of POST and PATCH /projects, the token form → POST /tokens, a
// token's state, and an API refusal split into the messages its form shows at its fields and the rest. The API is the one validator of values: the forms only
// refuse what JSON cannot carry faithfully (text that is no number), so its messages are the ones shown.
import type { ErrorDetail, ProjectInfo } from '@hypersweep/schemas';
import { ApiError, QUOTA_NAMES, TOKEN_ROLES, type CreateProjectInput, type CreateTokenRequest, type Project, type QuotaChange, type QuotaName, type TokenRecord, type TokenRole, type WhoAmI } from '@hypersweep/client';
import { errorsByPath, type Checked, type FieldErrors } from './sweep-control.ts';

export { QUOTA_NAMES, TOKEN_ROLES };
export type { QuotaName, TokenRole };

/**
 * Who the page takes the caller to be: what GET /me answered (`known`), `unknown` when /me failed,
 * `asking` until then.
 */
export type Caller = { readonly kind: 'asking' } | { readonly kind: 'unknown' } | { readonly kind: 'known'; readonly me: WhoAmI };

export function callerOf(me: { readonly data: WhoAmI | undefined; readonly error: unknown }): Caller {
  if (me.data !== undefined) return { kind: 'known', me: me.data };
  return me.error ? { kind: 'unknown' } : { kind: 'asking' };
}

/**
 * Whether the page shows a server admin's controls ("New project", "Edit quotas", the new token's
 * "server admin" checkbox): to a server admin, and to a caller /me could not tell, as before /me
 * existed (the API's 403 is the judge then). Not while /me is asked, so no control shows and vanishes.
 */
export function offersServerAdminControls(caller: Caller): boolean {
  return caller.kind === 'unknown' || (caller.kind === 'known' && caller.me.serverAdmin);
}

/**
 * Whether the page offers token management (list, create, revoke): the API allows it to a server
 * admin and to an admin of some project. A caller /me could not tell gets it, as before (the API judges).
 */
export function managesTokens(caller: Caller): boolean {
  if (caller.kind !== 'known') return caller.kind === 'unknown';
  return caller.me.serverAdmin || (caller.me.token?.grants.some((g) => g.role === 'admin') ?? false);
}

/** The projects a new token may get a role in: those where the caller is admin (a server admin is admin in every one). */
export function grantableProjects(projects: readonly Project[], caller: Caller): readonly Project[] {
  if (caller.kind === 'known' && caller.me.serverAdmin) return projects;
  return projects.filter((p) => p.role === 'admin');
}

/** Who is signed in, for the page's header: the token's name (null: authentication is off) and what it may do. */
export function callerSummary(me: WhoAmI): { readonly name: string | null; readonly roles: string } {
  if (me.token === null) return { name: null, roles: 'server admin' };
  const grants = me.token.grants.map((g) => `${g.project}: ${g.role}`);
  const roles = [...(me.serverAdmin ? ['server admin'] : []), ...grants];
  return { name: me.token.name, roles: roles.length > 0 ? roles.join(', ') : 'no role in any project' };
}

/** How each quota is named on the page, and the usage counted against it. */
export const QUOTA_LABELS: Readonly<Record<QuotaName, { label: string; usage: keyof ProjectInfo['usage']; bytes?: true }>> = {
  maxRunningTrials: { label: 'Running trials', usage: 'runningTrials' },
  maxQueuedTrials: { label: 'Queued trials', usage: 'queuedTrials' },
  maxActiveSweeps: { label: 'Active sweeps', usage: 'activeSweeps' },
  maxEpochsPerDay: { label: 'Epochs per day (UTC)', usage: 'epochsToday' },
  maxDatasetBytes: { label: 'Dataset bytes', usage: 'datasetBytes', bytes: true },
};

export const ROLE_HINTS: Readonly<Record<TokenRole, string>> = {
  read: 'sees the project’s sweeps, trials and datasets',
  submit: 'read, and submits and controls sweeps, uploads datasets',
  admin: 'submit, and manages the project’s tokens',
};

/** The quota inputs as typed: text per quota, empty for no limit. */
export type QuotaForm = Record<QuotaName, string>;

export function emptyQuotaForm(): QuotaForm {
  return Object.fromEntries(QUOTA_NAMES.map((q) => [q, ''])) as QuotaForm;
}

export function quotaForm(quotas: ProjectInfo['quotas']): QuotaForm {
  return Object.fromEntries(QUOTA_NAMES.map((q) => [q, quotas[q] === null ? '' : String(quotas[q])])) as QuotaForm;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * One input's value: '' is no limit (null); a number is sent as typed (the API refuses a negative or
 * fractional one, naming the quota). Text that is no number cannot be sent: NaN would go out as null
 * and lift the quota.
 */
function quotaValue(text: string): { ok: true; value: number | null } | { ok: false } {
  const t = text.trim().replace(/[_\s]/g, '');
  if (t === '') return { ok: true, value: null };
  return NUMBER.test(t) && Number.isFinite(Number(t)) ? { ok: true, value: Number(t) } : { ok: false };
}

const NOT_A_NUMBER = 'a whole number ≥ 0, or empty for no limit';

/** The quotas of a PATCH: only those that differ from the project's now. */
export function quotaChange(current: ProjectInfo['quotas'], form: QuotaForm): Checked<QuotaChange> {
  const details: ErrorDetail[] = [];
  const change: Partial<Record<QuotaName, number | null>> = {};
  for (const q of QUOTA_NAMES) {
    const v = quotaValue(form[q]);
    if (!v.ok) details.push({ path: `quotas.${q}`, message: NOT_A_NUMBER });
    else if (v.value !== current[q]) change[q] = v.value;
  }
  if (details.length === 0 && Object.keys(change).length === 0) details.push({ path: 'quotas', message: 'nothing to change: edit a quota first' });
  return details.length > 0 ? { ok: false, errors: errorsByPath(details) } : { ok: true, value: change };
}

/** The body of POST /projects: the name as typed (trimmed) and the quotas that were given. */
export function newProjectRequest(name: string, form: QuotaForm): Checked<CreateProjectInput> {
  const details: ErrorDetail[] = [];
  const quotas: Partial<Record<QuotaName, number>> = {};
  for (const q of QUOTA_NAMES) {
    const v = quotaValue(form[q]);
    if (!v.ok) details.push({ path: `quotas.${q}`, message: NOT_A_NUMBER });
    else if (v.value !== null) quotas[q] = v.value;
  }
  return details.length > 0 ? { ok: false, errors: errorsByPath(details) } : { ok: true, value: { name: name.trim(), quotas } };
}

export const EXPIRY_CHOICES = [
  { value: 'never', label: 'Never', days: null },
  { value: '7d', label: '7 days', days: 7 },
  { value: '30d', label: '30 days', days: 30 },
  { value: '90d', label: '90 days', days: 90 },
  { value: '365d', label: '1 year', days: 365 },
] as const;
export type Expiry = (typeof EXPIRY_CHOICES)[number]['value'];

export interface TokenForm {
  readonly name: string;
  readonly grants: readonly { readonly project: string; readonly role: TokenRole }[];
  readonly serverAdmin: boolean;
  readonly expires: Expiry;
}

/** The body of POST /tokens; the expiry is counted from `now`. */
export function newTokenRequest(form: TokenForm, now: number): CreateTokenRequest {
  const days = EXPIRY_CHOICES.find((c) => c.value === form.expires)?.days ?? null;
  return {
    name: form.name.trim(),
    grants: form.grants.map((g) => ({ project: g.project, role: g.role })),
    ...(form.serverAdmin ? { serverAdmin: true } : {}),
    ...(days === null ? {} : { expiresAt: new Date(now + days * 86_400_000).toISOString() }),
  };
}

export type TokenState = 'active' | 'expired' | 'revoked';

export function tokenState(token: TokenRecord, now: number): TokenState {
  if (token.revokedAt !== null) return 'revoked';
  if (token.expiresAt !== null && Date.parse(token.expiresAt) <= now) return 'expired';
  return 'active';
}

/** Whether `token` is the secret this browser signs in with: tokens are told apart by their prefix. */
export function isSignedInWith(token: TokenRecord, secret: string | null): boolean {
  return secret !== null && token.prefix.length > 0 && secret.startsWith(token.prefix);
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** A refusal as a form shows it: the API's message, its details at the fields the form has, the rest by path. */
export interface FormRefusal {
  readonly message: string;
  readonly fields: FieldErrors;
  readonly other: readonly (readonly [string, readonly string[]])[];
}

/**
 * `field` maps a detail's path to the form field it belongs to (or null): e.g. a token's `grants`
 * ("needs a role in a project") belongs to the first project input.
 */
export function refusalOf(error: unknown, field: (path: string) => string | null): FormRefusal {
  const message = error instanceof Error ? error.message : String(error);
  const details = error instanceof ApiError ? error.details : [];
  const placed: ErrorDetail[] = [];
  const other: ErrorDetail[] = [];
  for (const d of details) {
    const at = field(d.path);
    if (at === null) other.push(d);
    else placed.push({ path: at, message: d.message });
  }
  return { message, fields: errorsByPath(placed), other: [...errorsByPath(other)] };
}
