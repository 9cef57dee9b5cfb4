// Projects over REST (GET/POST /projects, GET/PATCH /projects/{name}), as functions of a client:
// what the dashboard's Access page uses. Bodies are typed by the schemas the API validates them
// with (@hypersweep/schemas), and every answer is parsed with the API's own schema.
import { CreateProjectRequest, ProjectInfo, ProjectList, ProjectQuotas, UpdateProjectRequest } from '@hypersweep/schemas';
import type { z } from 'zod';
import type { CallOptions, HypersweepClient } from './client.ts';

const enc = encodeURIComponent;

/** A project as the API shows it to the caller: its role there, the quotas and what is used against them. */
export type Project = ProjectInfo;
/** The body of POST /projects: `{ name, quotas? }`. */
export type CreateProjectInput = z.input<typeof CreateProjectRequest>;
/** The `quotas` of PATCH /projects/{name}: the quotas to set; `null` lifts one, an absent one is kept. */
export type QuotaChange = z.input<typeof UpdateProjectRequest>['quotas'];
export type QuotaName = keyof z.infer<typeof ProjectQuotas>;

/** Every quota a project has, in the order the API documents them. */
export const QUOTA_NAMES = Object.keys(ProjectQuotas.shape) as QuotaName[];

/** GET /projects: the projects the caller sees (all of them for a server admin), by name. */
export async function listProjects(client: HypersweepClient, options: CallOptions = {}): Promise<Project[]> {
  return (await client.request('GET', '/projects', ProjectList, options)).items;
}

/** GET /projects/{name}: a 404 for a project the caller does not see, as for one that does not exist. */
export function getProject(client: HypersweepClient, name: string, options: CallOptions = {}): Promise<Project> {
  return client.request('GET', `/projects/${enc(name)}`, ProjectInfo, options);
}

/** POST /projects (server admin, else 403): a taken name is a 409 `conflict`. */
export function createProject(client: HypersweepClient, request: CreateProjectInput, options: CallOptions = {}): Promise<Project> {
  return client.request('POST', '/projects', ProjectInfo, { json: request, signal: options.signal });
}

/**
 * PATCH /projects/{name} `{quotas}` (server admin, else 403): sets the given quotas. A value that is
 * not a whole number ≥ 0 is a 400 naming it (`quotas.maxRunningTrials`).
 */
export function updateProjectQuotas(client: HypersweepClient, name: string, quotas: QuotaChange, options: CallOptions = {}): Promise<Project> {
  return client.request('PATCH', `/projects/${enc(name)}`, ProjectInfo, { json: { quotas }, signal: options.signal });
}
