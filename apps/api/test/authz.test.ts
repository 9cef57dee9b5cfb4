// The authorisation matrix: every route × every role (read, submit, admin of a project, and a
// server admin) × a resource of the token's own project and of another. Own project with the role
// → the route's answer; a weaker role → 403; another project → 404 as if the resource did not exist,
// and no response body of any route carries another project's ids.
import { claimTrial, createApiToken, createProject, createTrial, setSweepStatus } from '@hypersweep/db';
import { API_ROUTES, ApiError, Sweep, SweepPage, WhoAmI } from '@hypersweep/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spiralsSweep } from './fixtures.ts';
import { startTestApi, type TestApi } from './harness.ts';

type Role = 'read' | 'submit' | 'admin' | 'server';
const RANK: Record<Role, number> = { read: 1, submit: 2, admin: 3, server: 4 };

/** What one project holds for the matrix: a sweep with a trial, a dataset, a token. */
interface Fixture {
  project: string;
  sweepId: string;
  trialId: string;
  datasetId: string;
  tokenId: string;
}

interface Case {
  /** `METHOD /path` as API_ROUTES names it. */
  route: string;
  /** The role the route needs in the resource's project; 'server' for server-admin routes. */
  need: Role;
  /** Success statuses for a token with the role (an answer about the resource's state, not about access, where noted). */
  ok: number[];
  /** Resources in project `f`: false for routes that list the token's own projects only. */
  scoped: boolean;
  /** Token management: a token with no admin role anywhere gets 403 before any resource is looked at. */
  adminOnly?: boolean;
  run(f: Fixture, as: (path: string, init?: RequestInit & { json?: unknown }) => Promise<Response>): Promise<Response>;
}

describe('authorisation matrix', () => {
  let t: TestApi;
  const tokens = new Map<Role, string>();
  let own: Fixture;
  let other: Fixture;
  let n = 0;
  const fresh = () => `m${++n}`;

  const as = (token: string) => (path: string, init: RequestInit & { json?: unknown } = {}) =>
    t.request(path, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: `Bearer ${token}` } });

  async function fixture(project: string): Promise<Fixture> {
    const admin = as(t.token);
    const res = await admin(`/api/v1/sweeps?project=${project}`, { method: 'POST', json: spiralsSweep(`${project}-sweep`) });
    expect(res.status).toBe(201);
    const sweepId = ((await res.json()) as { id: string }).id;
    await setSweepStatus(t.db, sweepId, 'running');
    const trial = await createTrial(t.db, sweepId, { params: { learningRate: 0.01 } });
    const upload = await admin(`/api/v1/datasets?project=${project}&name=${project}-csv&labelColumn=y&task=classification`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: 'a,b,y\n' + Array.from({ length: 40 }, (_, i) => `${i},${i % 3},${i % 2}`).join('\n'),
    });
    expect(upload.status).toBe(201);
    const datasetId = ((await upload.json()) as { id: string }).id;
    const token = await admin('/api/v1/tokens', { method: 'POST', json: { name: `${project}-ci`, grants: [{ project, role: 'read' }] } });
    expect(token.status).toBe(201);
    return { project, sweepId, trialId: trial.id, datasetId, tokenId: ((await token.json()) as { id: string }).id };
  }

  /** A running sweep with a claimed trial, for the routes that change state. */
  async function freshSweep(project: string): Promise<{ sweepId: string; trialId: string }> {
    const res = await as(t.token)(`/api/v1/sweeps?project=${project}`, { method: 'POST', json: spiralsSweep(fresh()) });
    const sweepId = ((await res.json()) as { id: string }).id;
    await setSweepStatus(t.db, sweepId, 'running');
    const trial = await createTrial(t.db, sweepId, { params: { learningRate: 0.01 } });
    await claimTrial(t.db, trial.id, 'w');
    return { sweepId, trialId: trial.id };
  }

  const csv = 'a,b,y\n' + Array.from({ length: 40 }, (_, i) => `${i},${i % 3},${i % 2}`).join('\n');
  const lease = { leaseId: '00000000-0000-4000-8000-00000000abcd' };

  const cases: Case[] = [
    { route: 'GET /sweeps', need: 'read', ok: [200], scoped: false, run: (_f, r) => r('/api/v1/sweeps?limit=200') },
    { route: 'POST /sweeps', need: 'submit', ok: [201], scoped: true, run: (f, r) => r(`/api/v1/sweeps?project=${f.project}`, { method: 'POST', json: spiralsSweep(fresh()) }) },
    { route: 'GET /sweeps/{sweepId}', need: 'read', ok: [200], scoped: true, run: (f, r) => r(`/api/v1/sweeps/${f.sweepId}`) },
    { route: 'GET /sweeps/{sweepId}/curves', need: 'read', ok: [200], scoped: true, run: (f, r) => r(`/api/v1/sweeps/${f.sweepId}/curves`) },
    {
      route: 'POST /sweeps/{sweepId}/cancel', need: 'submit', ok: [200], scoped: true,
      run: async (f, r) => r(`/api/v1/sweeps/${(await freshSweep(f.project)).sweepId}/cancel`, { method: 'POST' }),
    },
    {
      route: 'POST /sweeps/{sweepId}/pause', need: 'submit', ok: [200], scoped: true,
      run: async (f, r) => r(`/api/v1/sweeps/${(await freshSweep(f.project)).sweepId}/pause`, { method: 'POST' }),
    },
    {
      route: 'POST /sweeps/{sweepId}/resume', need: 'submit', ok: [200], scoped: true,
      run: async (f, r) => {
        const { sweepId } = await freshSweep(f.project);
        await as(t.token)(`/api/v1/sweeps/${sweepId}/pause`, { method: 'POST' });
        return r(`/api/v1/sweeps/${sweepId}/resume`, { method: 'POST' });
      },
    },
    {
      route: 'PATCH /sweeps/{sweepId}', need: 'submit', ok: [200], scoped: true,
      run: async (f, r) => r(`/api/v1/sweeps/${(await freshSweep(f.project)).sweepId}`, { method: 'PATCH', json: { budget: { maxTrials: 5 } } }),
    },
    {
      route: 'POST /sweeps/{sweepId}/trials', need: 'submit', ok: [201], scoped: true,
      run: async (f, r) => r(`/api/v1/sweeps/${(await freshSweep(f.project)).sweepId}/trials`, { method: 'POST', json: { params: [{ learningRate: 0.02 }] } }),
    },
    { route: 'GET /sweeps/{sweepId}/storage', need: 'read', ok: [200], scoped: true, run: (f, r) => r(`/api/v1/sweeps/${f.sweepId}/storage`) },
    {
      route: 'DELETE /sweeps/{sweepId}', need: 'submit', ok: [204], scoped: true,
      run: async (f, r) => {
        const { sweepId } = await freshSweep(f.project);
        await as(t.token)(`/api/v1/sweeps/${sweepId}/cancel`, { method: 'POST' });
        return r(`/api/v1/sweeps/${sweepId}`, { method: 'DELETE' });
      },
    },
    { route: 'GET /sweeps/{sweepId}/trials', need: 'read', ok: [200], scoped: true, run: (f, r) => r(`/api/v1/sweeps/${f.sweepId}/trials`) },
    { route: 'GET /sweeps/{sweepId}/trials/{trialId}', need: 'read', ok: [200], scoped: true, run: (f, r) => r(`/api/v1/sweeps/${f.sweepId}/trials/${f.trialId}`) },
    {
      route: 'POST /sweeps/{sweepId}/trials/{trialId}/stop', need: 'submit', ok: [200], scoped: true,
      run: async (f, r) => {
        const s = await freshSweep(f.project);
        return r(`/api/v1/sweeps/${s.sweepId}/trials/${s.trialId}/stop`, { method: 'POST' });
      },
    },
    { route: 'GET /sweeps/{sweepId}/trials/{trialId}/metrics', need: 'read', ok: [200], scoped: true, run: (f, r) => r(`/api/v1/sweeps/${f.sweepId}/trials/${f.trialId}/metrics`) },
    {
      // 200 and the stream; read only its head.
      route: 'GET /sweeps/{sweepId}/events', need: 'read', ok: [200], scoped: true,
      run: async (f, r) => {
        const controller = new AbortController();
        const res = await r(`/api/v1/sweeps/${f.sweepId}/events`, { signal: controller.signal });
        const head = new Response(res.status === 200 ? null : await res.text(), { status: res.status, headers: res.headers });
        controller.abort();
        return head;
      },
    },
    // The trial has no checkpoint yet: allowed, the answer is about its model (409).
    { route: 'GET /sweeps/{sweepId}/trials/{trialId}/export', need: 'read', ok: [409], scoped: true, run: (f, r) => r(`/api/v1/sweeps/${f.sweepId}/trials/${f.trialId}/export`) },
    {
      route: 'POST /sweeps/{sweepId}/trials/{trialId}/predict', need: 'read', ok: [409], scoped: true,
      run: (f, r) => r(`/api/v1/sweeps/${f.sweepId}/trials/${f.trialId}/predict`, { method: 'POST', json: { inputs: [[0, 0]] } }),
    },
    // Built-in sweeps: allowed, the answer is that the sweep is not an ask/tell one (409).
    { route: 'POST /sweeps/{sweepId}/ask', need: 'submit', ok: [409], scoped: true, run: (f, r) => r(`/api/v1/sweeps/${f.sweepId}/ask`, { method: 'POST' }) },
    {
      route: 'POST /sweeps/{sweepId}/trials/{trialId}/heartbeat', need: 'submit', ok: [409], scoped: true,
      run: (f, r) => r(`/api/v1/sweeps/${f.sweepId}/trials/${f.trialId}/heartbeat`, { method: 'POST', json: lease }),
    },
    {
      route: 'POST /sweeps/{sweepId}/trials/{trialId}/report', need: 'submit', ok: [409], scoped: true,
      run: (f, r) => r(`/api/v1/sweeps/${f.sweepId}/trials/${f.trialId}/report`, { method: 'POST', json: { ...lease, step: 1, metrics: { val_accuracy: 0.5 } } }),
    },
    {
      route: 'POST /sweeps/{sweepId}/trials/{trialId}/tell', need: 'submit', ok: [409], scoped: true,
      run: (f, r) => r(`/api/v1/sweeps/${f.sweepId}/trials/${f.trialId}/tell`, { method: 'POST', json: { ...lease, status: 'completed' } }),
    },
    { route: 'GET /datasets', need: 'read', ok: [200], scoped: false, run: (_f, r) => r('/api/v1/datasets') },
    {
      route: 'POST /datasets', need: 'submit', ok: [201], scoped: true,
      run: (f, r) => r(`/api/v1/datasets?project=${f.project}&name=${fresh()}&labelColumn=y&task=classification`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv }),
    },
    // No files: allowed, the answer names what is missing (400).
    {
      route: 'POST /datasets/idx', need: 'submit', ok: [400], scoped: true,
      run: (f, r) => {
        const form = new FormData();
        form.set('name', fresh());
        return r(`/api/v1/datasets/idx?project=${f.project}`, { method: 'POST', body: form });
      },
    },
    { route: 'GET /datasets/{datasetId}', need: 'read', ok: [200], scoped: true, run: (f, r) => r(`/api/v1/datasets/${f.datasetId}`) },
    { route: 'GET /me', need: 'read', ok: [200], scoped: false, run: (_f, r) => r('/api/v1/me') },
    { route: 'GET /tokens', need: 'admin', adminOnly: true, ok: [200], scoped: false, run: (_f, r) => r('/api/v1/tokens') },
    {
      route: 'POST /tokens', need: 'admin', adminOnly: true, ok: [201], scoped: true,
      run: (f, r) => r('/api/v1/tokens', { method: 'POST', json: { name: fresh(), grants: [{ project: f.project, role: 'read' }] } }),
    },
    {
      route: 'DELETE /tokens/{tokenId}', need: 'admin', adminOnly: true, ok: [204], scoped: true,
      run: async (f, r) => {
        const made = await as(t.token)('/api/v1/tokens', { method: 'POST', json: { name: fresh(), grants: [{ project: f.project, role: 'read' }] } });
        return r(`/api/v1/tokens/${((await made.json()) as { id: string }).id}`, { method: 'DELETE' });
      },
    },
    { route: 'GET /projects', need: 'read', ok: [200], scoped: false, run: (_f, r) => r('/api/v1/projects') },
    { route: 'POST /projects', need: 'server', ok: [201], scoped: false, run: (_f, r) => r('/api/v1/projects', { method: 'POST', json: { name: fresh() } }) },
    { route: 'GET /projects/{project}', need: 'read', ok: [200], scoped: true, run: (f, r) => r(`/api/v1/projects/${f.project}`) },
    {
      route: 'PATCH /projects/{project}', need: 'server', ok: [200], scoped: true,
      run: (f, r) => r(`/api/v1/projects/${f.project}`, { method: 'PATCH', json: { quotas: { maxRunningTrials: 100 } } }),
    },
    { route: 'GET /workers', need: 'read', ok: [200], scoped: false, run: (_f, r) => r('/api/v1/workers') },
    { route: 'GET /openapi.json', need: 'read', ok: [200], scoped: false, run: (_f, r) => r('/api/v1/openapi.json') },
  ];

  beforeAll(async () => {
    t = await startTestApi();
    await createProject(t.db, 'alpha');
    await createProject(t.db, 'beta');
    own = await fixture('alpha');
    other = await fixture('beta');
    const { token: server } = await createApiToken(t.db, { name: 'server', grants: [], serverAdmin: true });
    tokens.set('server', server);
    for (const role of ['read', 'submit', 'admin'] as const) {
      const projects = await t.db.project.findUniqueOrThrow({ where: { name: 'alpha' } });
      tokens.set(role, (await createApiToken(t.db, { name: role, grants: [{ projectId: projects.id, role }] })).token);
    }
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  it('covers every route of the API', () => {
    const covered = new Set(cases.map((c) => c.route));
    const routes = API_ROUTES.filter((r) => !r.public).map((r) => `${r.method.toUpperCase()} ${r.path.replace('/api/v1', '')}`);
    expect(routes.filter((r) => !covered.has(r))).toEqual([]);
  });

  for (const role of ['read', 'submit', 'admin', 'server'] as const) {
    it(`answers a ${role} token as its role and project allow, and shows it nothing of another project`, async () => {
      const request = as(tokens.get(role)!);
      const foreign = [other.sweepId, other.trialId, other.datasetId, other.tokenId];
      const wrong: string[] = [];
      for (const c of cases) {
        for (const [where, f] of [['own', own], ['other', other]] as const) {
          if (where === 'other' && !c.scoped) continue;
          const res = await c.run(f, request);
          const text = res.status === 204 ? '' : await res.text();
          const allowed = RANK[role] >= RANK[c.need];
          // A server admin sees every project; anyone else sees nothing of another one.
          const expected = c.adminOnly && !allowed ? [403] : where === 'other' && role !== 'server' ? [404] : allowed ? c.ok : [403];
          if (!expected.includes(res.status)) wrong.push(`${c.route} (${where}): ${res.status}, expected ${expected.join('|')}: ${text.slice(0, 200)}`);
          if (res.status === 404 && where === 'other' && role !== 'server') {
            // The 404 of a resource that does not exist: no message about access.
            expect(ApiError.parse(JSON.parse(text)).error.message).not.toMatch(/role|forbidden|permission|project .* does not allow/i);
          }
          // An error may repeat the id the request named; an answer never names another project's.
          if (role !== 'server' && res.ok) for (const id of foreign) if (text.includes(id)) wrong.push(`${c.route} (${where}): the body names ${id} of another project`);
        }
      }
      expect(wrong).toEqual([]);
    }, 120_000);
  }

  it('tells each token who it is: its grants by project name, whether it is a server admin, never its secret', async () => {
    for (const role of ['read', 'submit', 'admin', 'server'] as const) {
      const res = await as(tokens.get(role)!)('/api/v1/me');
      expect(res.status).toBe(200);
      const me = WhoAmI.parse(await res.json());
      expect(me.serverAdmin).toBe(role === 'server');
      expect(me.token?.name).toBe(role);
      expect(me.token?.grants).toEqual(role === 'server' ? [] : [{ project: 'alpha', role }]);
      expect(JSON.stringify(me)).not.toContain(tokens.get(role)!);
    }
    expect((await t.request('/api/v1/me', { headers: { authorization: 'Bearer hs_not-a-token' } })).status).toBe(401);
  });

  it('names the project of each sweep in reads and listings, and lists the sweeps of one project with ?project=', async () => {
    const server = as(tokens.get('server')!);
    const one = Sweep.parse(await (await server(`/api/v1/sweeps/${own.sweepId}`)).json());
    expect(one.project).toBe('alpha');
    const all = SweepPage.parse(await (await server('/api/v1/sweeps?limit=100')).json());
    const named = new Map(all.items.map((s) => [s.id, s.project]));
    expect([named.get(own.sweepId), named.get(other.sweepId)]).toEqual(['alpha', 'beta']);
    const beta = SweepPage.parse(await (await server('/api/v1/sweeps?project=beta&limit=100')).json());
    expect(beta.items.length).toBeGreaterThan(0);
    expect(beta.items.every((s) => s.project === 'beta')).toBe(true);
  });

  it('names the field project in every refusal about ?project=, whichever route checks it', async () => {
    const server = as(tokens.get('server')!);
    const created = await server('/api/v1/tokens', { method: 'POST', json: { name: 'two-projects', grants: [{ project: 'alpha', role: 'submit' }, { project: 'beta', role: 'submit' }] } });
    expect(created.status).toBe(201);
    const two = as(((await created.json()) as { token: string }).token);
    const csvUpload = (query: string) => server(`/api/v1/datasets?${query}name=${fresh()}&labelColumn=y&task=classification`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: csv });
    const idxUpload = (query: string) => server(`/api/v1/datasets/idx?${query}`, { method: 'POST', body: new FormData() });
    const refusals: [string, Promise<Response>, number][] = [
      ['POST /sweeps bad name', server('/api/v1/sweeps?project=Not%20a%20name', { method: 'POST', json: spiralsSweep(fresh()) }), 400],
      ['POST /sweeps twice', server('/api/v1/sweeps?project=alpha&project=beta', { method: 'POST', json: spiralsSweep(fresh()) }), 400],
      ['POST /sweeps unknown', server('/api/v1/sweeps?project=nosuch', { method: 'POST', json: spiralsSweep(fresh()) }), 404],
      ['POST /sweeps none named, several projects', two('/api/v1/sweeps', { method: 'POST', json: spiralsSweep(fresh()) }), 400],
      ['GET /sweeps bad name', server('/api/v1/sweeps?project=Not%20a%20name'), 400],
      ['GET /sweeps unknown', server('/api/v1/sweeps?project=nosuch'), 404],
      ['POST /datasets bad name', csvUpload('project=Not%20a%20name&'), 400],
      ['POST /datasets unknown', csvUpload('project=nosuch&'), 404],
      ['POST /datasets/idx bad name', idxUpload('project=Not%20a%20name'), 400],
      ['POST /datasets/idx unknown', idxUpload('project=nosuch'), 404],
    ];
    for (const [what, pending, status] of refusals) {
      const res = await pending;
      const body = ApiError.parse(await res.json());
      expect({ what, status: res.status, paths: body.error.details.map((d) => d.path) }).toEqual({ what, status, paths: ['project'] });
    }
  });

  it('refuses a second project of the same name with a 409 naming the field', async () => {
    const res = await as(tokens.get('server')!)('/api/v1/projects', { method: 'POST', json: { name: 'alpha' } });
    expect(res.status).toBe(409);
    expect(ApiError.parse(await res.json()).error.details[0]?.path).toBe('name');
  });

  it('refuses an expired token, and a project admin cannot grant what it does not administer', async () => {
    const alpha = await t.db.project.findUniqueOrThrow({ where: { name: 'alpha' } });
    const expired = await createApiToken(t.db, { name: 'old', grants: [{ projectId: alpha.id, role: 'admin' }], expiresAt: new Date(Date.now() - 1000) });
    expect((await as(expired.token)('/api/v1/sweeps')).status).toBe(401);
    const admin = as(tokens.get('admin')!);
    const res = await admin('/api/v1/tokens', { method: 'POST', json: { name: 'x', grants: [{ project: 'beta', role: 'read' }] } });
    expect(res.status).toBe(404);
    expect(ApiError.parse(await res.json()).error.details[0]?.path).toBe('grants[0].project');
    const escalate = await admin('/api/v1/tokens', { method: 'POST', json: { name: 'x', serverAdmin: true } });
    expect(escalate.status).toBe(403);
    const past = await admin('/api/v1/tokens', { method: 'POST', json: { name: 'x', grants: [{ project: 'alpha', role: 'read' }], expiresAt: '2020-01-01T00:00:00Z' } });
    expect(past.status).toBe(400);
    expect(ApiError.parse(await past.json()).error.details[0]?.path).toBe('expiresAt');
  });
});
