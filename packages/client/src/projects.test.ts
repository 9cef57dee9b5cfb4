// The project calls against a recording node:http server (as the other calls' tests): the method,
// path and body each sends, answers parsed with the API's ProjectInfo, and refusals (403 of a
// token that is no server admin, 400 naming the quota, 409 of a taken name) as ApiErrors.
import { ProjectInfo } from '@hypersweep/schemas';
import { describe, expect, it } from 'vitest';
import { T0 } from '../test/fixtures.ts';
import { jsonOf, recordingClients, type Answer } from '../test/recording-server.ts';
import { ApiError } from './errors.ts';
import { QUOTA_NAMES, createProject, getProject, listProjects, updateProjectQuotas } from './projects.ts';

const { serve, requests } = recordingClients();

const NO_QUOTAS: ProjectInfo['quotas'] = { maxRunningTrials: null, maxQueuedTrials: null, maxActiveSweeps: null, maxEpochsPerDay: null, maxDatasetBytes: null };

/** A project as the API presents it, built through its schema (a drift fails here). */
function projectJson(name: string, quotas: Partial<typeof NO_QUOTAS> = {}): ProjectInfo {
  return ProjectInfo.parse({
    id: '7d9c1e52-3b0a-4a6e-9a51-2f0c7b1d4e60',
    name,
    createdAt: T0,
    role: 'admin',
    quotas: { ...NO_QUOTAS, ...quotas },
    usage: { runningTrials: 1, queuedTrials: 2, activeSweeps: 1, epochsToday: 40, datasetBytes: 0 },
  });
}

const refusal = (status: number, code: string, message: string, details: { path: string; message: string }[] = []): Answer => ({ status, json: { error: { code, message, details } } });

describe('project calls', () => {
  it('lists the projects with their quotas and usage, and gets one by its (encoded) name', async () => {
    const client = await serve((req) => ({ json: req.path.endsWith('/projects') ? { items: [projectJson('default'), projectJson('vision', { maxRunningTrials: 4 })] } : projectJson('vision') }));
    const projects = await listProjects(client);
    expect(projects.map((p) => [p.name, p.quotas.maxRunningTrials, p.usage.epochsToday])).toEqual([['default', null, 40], ['vision', 4, 40]]);
    expect((await getProject(client, 'vision')).name).toBe('vision');
    // A name is a path segment: anything odd stays inside it.
    await getProject(client, 'a/b?c');
    expect(requests().map((r) => `${r.method} ${r.path}`)).toEqual(['GET /api/v1/projects', 'GET /api/v1/projects/vision', 'GET /api/v1/projects/a%2Fb%3Fc']);
    expect(requests().every((r) => r.headers.authorization === 'Bearer hs_test')).toBe(true);
  });

  it('creates a project with POST {name, quotas}, and carries the 403 of a token that is no server admin', async () => {
    let answer: Answer = { status: 201, json: projectJson('vision', { maxActiveSweeps: 2 }) };
    const client = await serve(() => answer);
    const created = await createProject(client, { name: 'vision', quotas: { maxActiveSweeps: 2 } });
    expect(created.quotas.maxActiveSweeps).toBe(2);
    const req = requests()[0]!;
    expect(`${req.method} ${req.path}`).toBe('POST /api/v1/projects');
    expect(req.headers['content-type']).toBe('application/json');
    expect(jsonOf(req)).toEqual({ name: 'vision', quotas: { maxActiveSweeps: 2 } });

    answer = refusal(403, 'forbidden', 'only a server admin token may do this', [{ path: 'headers.authorization', message: 'needs a server admin token' }]);
    const error = await createProject(client, { name: 'nlp' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 403, code: 'forbidden', message: 'only a server admin token may do this', answered: true });
  });

  it('names the field of a refused name, and carries the 409 of a taken one', async () => {
    let answer = refusal(400, 'invalid_request', 'invalid body: name: must be a project name', [{ path: 'name', message: 'must be a project name: 1-63 of a-z, 0-9, _ and -, starting with a letter or digit' }]);
    const client = await serve(() => answer);
    await expect(createProject(client, { name: 'Vision!' })).rejects.toMatchObject({ status: 400, details: [{ path: 'name' }] });
    answer = refusal(409, 'conflict', 'a project named "vision" exists');
    await expect(createProject(client, { name: 'vision' })).rejects.toMatchObject({ status: 409, code: 'conflict' });
  });

  it('PATCHes {quotas} (null lifts one) and parses the project', async () => {
    const client = await serve(() => ({ json: projectJson('vision', { maxRunningTrials: 8 }) }));
    const updated = await updateProjectQuotas(client, 'vision', { maxRunningTrials: 8, maxEpochsPerDay: null });
    expect(updated.quotas).toEqual({ ...NO_QUOTAS, maxRunningTrials: 8 });
    const req = requests()[0]!;
    expect(`${req.method} ${req.path}`).toBe('PATCH /api/v1/projects/vision');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers.authorization).toBe('Bearer hs_test');
    expect(jsonOf(req)).toEqual({ quotas: { maxRunningTrials: 8, maxEpochsPerDay: null } });
  });

  it('names the quota the API refused, refuses an answer that is not a project, and reports a 401', async () => {
    let answer = refusal(400, 'invalid_request', 'invalid body: quotas.maxRunningTrials: must be ≥ 0', [{ path: 'quotas.maxRunningTrials', message: 'must be ≥ 0' }]);
    let unauthorized = 0;
    const client = await serve(() => answer, () => unauthorized++);
    const refused = await updateProjectQuotas(client, 'vision', { maxRunningTrials: -1 }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ status: 400, code: 'invalid_request', details: [{ path: 'quotas.maxRunningTrials', message: 'must be ≥ 0' }], answered: true });

    answer = { json: { id: 'vision' } };
    const invalid = await updateProjectQuotas(client, 'vision', { maxRunningTrials: 1 }).catch((e: unknown) => e);
    expect(invalid).toMatchObject({ status: 200, code: 'invalid_response', answered: false });
    expect((invalid as ApiError).message).toBe('PATCH /projects/vision answered with a body that does not match its schema');

    answer = refusal(401, 'unauthorized', 'missing or invalid token');
    await expect(updateProjectQuotas(client, 'vision', { maxRunningTrials: 1 })).rejects.toMatchObject({ status: 401 });
    expect(unauthorized).toBe(1);
  });

  it('names every quota of the schema', () => {
    expect(QUOTA_NAMES).toEqual(['maxRunningTrials', 'maxQueuedTrials', 'maxActiveSweeps', 'maxEpochsPerDay', 'maxDatasetBytes']);
  });
});
