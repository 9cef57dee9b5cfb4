import { ApiError } from '@hypersweep/client';
import { CreateApiTokenRequest, CreateProjectRequest, UpdateProjectRequest, type ApiTokenInfo, type ProjectInfo } from '@hypersweep/schemas';
import { describe, expect, it } from 'vitest';
import { emptyQuotaForm, formatBytes, isSignedInWith, newProjectRequest, newTokenRequest, quotaChange, quotaForm, refusalOf, tokenState } from './access.ts';

const QUOTAS: ProjectInfo['quotas'] = { maxRunningTrials: 4, maxQueuedTrials: null, maxActiveSweeps: 2, maxEpochsPerDay: null, maxDatasetBytes: 1_000_000 };
const NOW = Date.parse('2026-03-01T12:00:00Z');

function token(overrides: Partial<ApiTokenInfo> = {}): ApiTokenInfo {
  return { id: '3a1f4c1e-2b0d-4e8a-9f01-6c2d8e7b5a10', name: 'ci', prefix: 'hs_Ab3dEf9h', grants: [{ project: 'vision', role: 'submit' }], serverAdmin: false, expiresAt: null, createdAt: '2026-01-01T00:00:00.000Z', lastUsedAt: null, revokedAt: null, ...overrides };
}

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
});

describe('formatBytes', () => {
  it('uses binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(50 * 2 ** 20)).toBe('50 MiB');
  });
});
