import { ApiError } from '@hypersweep/client';
import { CreateApiTokenRequest, CreateProjectRequest, UpdateProjectRequest, WhoAmI, type ApiTokenInfo, type ProjectInfo } from '@hypersweep/schemas';
import { describe, expect, it } from 'vitest';
import {
  callerOf,
  callerSummary,
  emptyQuotaForm,
  formatBytes,
  grantableProjects,
  isSignedInWith,
  managesTokens,
  newProjectRequest,
  newTokenRequest,
  offersServerAdminControls,
  quotaChange,
  quotaForm,
  refusalOf,
  tokenState,
} from './access.ts';

const QUOTAS: ProjectInfo['quotas'] = { maxRunningTrials: 4, maxQueuedTrials: null, maxActiveSweeps: 2, maxEpochsPerDay: null, maxDatasetBytes: 1_000_000 };
const NOW = Date.parse('2026-03-01T12:00:00Z');

function token(overrides: Partial<ApiTokenInfo> = {}): ApiTokenInfo {
  return { id: '3a1f4c1e-2b0d-4e8a-9f01-6c2d8e7b5a10', name: 'ci', prefix: 'hs_Ab3dEf9h', grants: [{ project: 'vision', role: 'submit' }], serverAdmin: false, expiresAt: null, createdAt: '2026-01-01T00:00:00.000Z', lastUsedAt: null, revokedAt: null, ...overrides };
}

function project(name: string, role: ProjectInfo['role']): ProjectInfo {
  return { id: '7d9c1e52-3b0a-4a6e-9a51-2f0c7b1d4e60', name, role, createdAt: '2026-01-01T00:00:00.000Z', quotas: QUOTAS, usage: { runningTrials: 0, queuedTrials: 0, activeSweeps: 0, epochsToday: 0, datasetBytes: 0 } };
}

describe('the caller (GET /me)', () => {
  // Each answer as the API sends it, through its schema (a drift fails here).
  const serverAdmin = WhoAmI.parse({ serverAdmin: true, token: token({ name: 'root', grants: [], serverAdmin: true }) });
  const projectAdmin = WhoAmI.parse({ serverAdmin: false, token: token({ name: 'nlp-admin', grants: [{ project: 'nlp', role: 'admin' }, { project: 'vision', role: 'read' }] }) });
  const authOff = WhoAmI.parse({ serverAdmin: true, token: null });
  const projects = [project('nlp', 'admin'), project('speech', 'submit'), project('vision', 'read')];

  it('is asked until /me answers, known from its answer, unknown when it failed', () => {
    expect(callerOf({ data: undefined, error: undefined })).toEqual({ kind: 'asking' });
    expect(callerOf({ data: projectAdmin, error: undefined })).toEqual({ kind: 'known', me: projectAdmin });
    expect(callerOf({ data: undefined, error: new ApiError(500, 'internal', 'boom') })).toEqual({ kind: 'unknown' });
  });

  it('offers a server admin’s controls to a server admin (also with authentication off) and to an unknown caller, never while asking', () => {
    expect(offersServerAdminControls({ kind: 'known', me: serverAdmin })).toBe(true);
    expect(offersServerAdminControls({ kind: 'known', me: authOff })).toBe(true);
    expect(offersServerAdminControls({ kind: 'known', me: projectAdmin })).toBe(false);
    // /me failed: every control shows, as before /me, and the API's 403 says no.
    expect(offersServerAdminControls({ kind: 'unknown' })).toBe(true);
    expect(offersServerAdminControls({ kind: 'asking' })).toBe(false);
  });

  it('offers token management to an admin of some project and to a server admin, not to a read or submit token', () => {
    const submitter = WhoAmI.parse({ serverAdmin: false, token: token({ name: 'ci', grants: [{ project: 'vision', role: 'submit' }, { project: 'nlp', role: 'read' }] }) });
    expect(managesTokens({ kind: 'known', me: projectAdmin })).toBe(true);
    expect(managesTokens({ kind: 'known', me: serverAdmin })).toBe(true);
    expect(managesTokens({ kind: 'known', me: authOff })).toBe(true);
    expect(managesTokens({ kind: 'known', me: submitter })).toBe(false);
    expect(managesTokens({ kind: 'unknown' })).toBe(true);
    expect(managesTokens({ kind: 'asking' })).toBe(false);
  });

  it('offers a new token only the projects the caller administers, every one to a server admin', () => {
    const names = (ps: readonly ProjectInfo[]) => ps.map((p) => p.name);
    expect(names(grantableProjects(projects, { kind: 'known', me: projectAdmin }))).toEqual(['nlp']);
    expect(names(grantableProjects(projects, { kind: 'unknown' }))).toEqual(['nlp']);
    expect(names(grantableProjects(projects, { kind: 'known', me: serverAdmin }))).toEqual(['nlp', 'speech', 'vision']);
  });

  it('names the signed-in token and its roles, or says authentication is off', () => {
    expect(callerSummary(projectAdmin)).toEqual({ name: 'nlp-admin', roles: 'nlp: admin, vision: read' });
    expect(callerSummary(serverAdmin)).toEqual({ name: 'root', roles: 'server admin' });
    expect(callerSummary(WhoAmI.parse({ serverAdmin: true, token: token({ name: 'dev', grants: [{ project: 'default', role: 'admin' }], serverAdmin: true }) }))).toEqual({ name: 'dev', roles: 'server admin, default: admin' });
    expect(callerSummary(WhoAmI.parse({ serverAdmin: false, token: token({ name: 'orphan', grants: [] }) }))).toEqual({ name: 'orphan', roles: 'no role in any project' });
    expect(callerSummary(authOff)).toEqual({ name: null, roles: 'server admin' });
  });
});

describe('quota forms', () => {
  it('shows each quota as text, empty for no limit, and sends only the changes (an emptied one is null)', () => {
    const form = quotaForm(QUOTAS);
    expect(form).toEqual({ maxRunningTrials: '4', maxQueuedTrials: '', maxActiveSweeps: '2', maxEpochsPerDay: '', maxDatasetBytes: '1000000' });
    const change = quotaChange(QUOTAS, { ...form, maxRunningTrials: ' 8 ', maxActiveSweeps: '', maxEpochsPerDay: '1_000' });
    expect(change).toEqual({ ok: true, value: { maxRunningTrials: 8, maxActiveSweeps: null, maxEpochsPerDay: 1000 } });
    if (change.ok) expect(UpdateProjectRequest.safeParse({ quotas: change.value }).success).toBe(true);
  });

  it('leaves the range to the API (a negative or fractional quota is sent), refuses text that is no number, and says when nothing changes', () => {
    expect(quotaChange(QUOTAS, { ...quotaForm(QUOTAS), maxRunningTrials: '-1', maxQueuedTrials: '2.5' })).toEqual({ ok: true, value: { maxRunningTrials: -1, maxQueuedTrials: 2.5 } });
    const bad = quotaChange(QUOTAS, { ...quotaForm(QUOTAS), maxRunningTrials: 'four', maxEpochsPerDay: 'NaN' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect([...bad.errors]).toEqual([['quotas.maxRunningTrials', ['a whole number ≥ 0, or empty for no limit']], ['quotas.maxEpochsPerDay', ['a whole number ≥ 0, or empty for no limit']]]);
    const same = quotaChange(QUOTAS, quotaForm(QUOTAS));
    expect(same.ok).toBe(false);
    if (!same.ok) expect([...same.errors.keys()]).toEqual(['quotas']);
  });

  it('creates a project with its trimmed name and only the quotas given', () => {
    const req = newProjectRequest(' vision ', { ...emptyQuotaForm(), maxActiveSweeps: '3' });
    expect(req).toEqual({ ok: true, value: { name: 'vision', quotas: { maxActiveSweeps: 3 } } });
    if (req.ok) expect(CreateProjectRequest.safeParse(req.value).success).toBe(true);
    // An empty name goes to the API, which names the field.
    expect(newProjectRequest('', emptyQuotaForm())).toEqual({ ok: true, value: { name: '', quotas: {} } });
    expect(newProjectRequest('x', { ...emptyQuotaForm(), maxDatasetBytes: '1 GB' })).toMatchObject({ ok: false });
  });
});

describe('tokens', () => {
  it('builds POST /tokens with its grants, server admin only when asked, and an expiry counted from now', () => {
    const req = newTokenRequest({ name: ' ci ', grants: [{ project: 'vision', role: 'submit' }, { project: 'nlp', role: 'read' }], serverAdmin: false, expires: '30d' }, NOW);
    expect(req).toEqual({ name: 'ci', grants: [{ project: 'vision', role: 'submit' }, { project: 'nlp', role: 'read' }], expiresAt: '2026-03-31T12:00:00.000Z' });
    // The schema wants the expiry in the future: counted from the real now, it is.
    expect(CreateApiTokenRequest.safeParse(newTokenRequest({ name: 'ci', grants: [{ project: 'vision', role: 'read' }], serverAdmin: false, expires: '7d' }, Date.now())).success).toBe(true);
    expect(newTokenRequest({ name: 'root', grants: [], serverAdmin: true, expires: 'never' }, NOW)).toEqual({ name: 'root', grants: [], serverAdmin: true });
  });

  it('tells active, expired and revoked tokens apart, and the one this browser signs in with', () => {
    expect(tokenState(token(), NOW)).toBe('active');
    expect(tokenState(token({ expiresAt: '2026-03-01T11:59:59.000Z' }), NOW)).toBe('expired');
    expect(tokenState(token({ expiresAt: '2026-03-01T11:59:59.000Z', revokedAt: '2026-02-01T00:00:00.000Z' }), NOW)).toBe('revoked');
    expect(isSignedInWith(token(), 'hs_Ab3dEf9hRest')).toBe(true);
    expect(isSignedInWith(token(), 'hs_Zb3dEf9hRest')).toBe(false);
    expect(isSignedInWith(token(), null)).toBe(false);
    expect(isSignedInWith(token({ prefix: '' }), 'hs_x')).toBe(false);
  });
});

describe('refusalOf', () => {
  it('puts the details at the fields the form has, the rest by path, with the API’s message', () => {
    const error = new ApiError(400, 'invalid_request', 'invalid body: grants: a token needs a role in at least one project (or serverAdmin)', {
      details: [
        { path: 'grants', message: 'a token needs a role in at least one project (or serverAdmin)' },
        { path: 'name', message: 'must not be empty' },
        { path: 'extra', message: 'is not a field' },
      ],
    });
    const r = refusalOf(error, (p) => (p === 'grants' ? 'grants[0].project' : p === 'name' ? 'name' : null));
    expect(r.message).toBe('invalid body: grants: a token needs a role in at least one project (or serverAdmin)');
    expect([...r.fields]).toEqual([['grants[0].project', ['a token needs a role in at least one project (or serverAdmin)']], ['name', ['must not be empty']]]);
    expect(r.other).toEqual([['extra', ['is not a field']]]);
    expect(refusalOf(new Error('offline'), () => null)).toEqual({ message: 'offline', fields: new Map(), other: [] });
  });

  it('shows a 403 (the second line of defence behind /me) with the API’s message and the header it names', () => {
    const forbidden = new ApiError(403, 'forbidden', 'only a server admin token may do this', { details: [{ path: 'headers.authorization', message: 'needs a server admin token' }] });
    const r = refusalOf(forbidden, (p) => (p.startsWith('quotas.') ? p : null));
    expect(r).toEqual({ message: 'only a server admin token may do this', fields: new Map(), other: [['headers.authorization', ['needs a server admin token']]] });
  });
});

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(50 * 2 ** 20)).toBe('50 MiB');
  });
});
