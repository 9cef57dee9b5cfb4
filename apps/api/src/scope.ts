// What a request's token may see and do. A token sees only the projects it has a grant in (a
// server admin sees all): anything of another project is answered 404, exactly as if it did not
// exist, and a role too weak for the action 403.
import { DEFAULT_PROJECT_ID, getProjectByName, projectOfSweep, type Db, type ProjectRole } from '@hypersweep/db';
import { TargetProjectQuery } from '@hypersweep/schemas';
import type { Request } from 'express';
import { HttpError, invalid } from './errors.ts';

const RANK: Readonly<Record<ProjectRole, number>> = { read: 1, submit: 2, admin: 3 };

/** Server admin: auth is off, or the token says so. */
export function isServerAdmin(req: Request): boolean {
  return req.token === undefined || req.token.serverAdmin;
}

/** The token's role in the project, null when it has none (the project is invisible to it). */
export function roleIn(req: Request, projectId: string): ProjectRole | null {
  if (isServerAdmin(req)) return 'admin';
  return req.token?.grants.find((g) => g.projectId === projectId)?.role ?? null;
}

/** Projects the token sees; undefined: all of them. */
export function visibleProjectIds(req: Request): string[] | undefined {
  if (isServerAdmin(req)) return undefined;
  return req.token?.grants.map((g) => g.projectId) ?? [];
}

export function hasRole(req: Request, projectId: string, need: ProjectRole): boolean {
  const role = roleIn(req, projectId);
  return role !== null && RANK[role] >= RANK[need];
}

/**
 * Passes when the token has `need` in the project; `hidden` (the 404 of the resource) when it sees
 * nothing of the project, 403 when its role is too weak.
 */
export function requireRole(req: Request, projectId: string, need: ProjectRole, hidden: () => HttpError): void {
  const role = roleIn(req, projectId);
  if (role === null) throw hidden();
  if (RANK[role] < RANK[need]) {
    throw new HttpError('forbidden', `this token's role ${role} in the project does not allow this (${need} is needed)`, [
      { path: 'headers.authorization', message: `needs the ${need} role in the project` },
    ]);
  }
}

export function requireServerAdmin(req: Request): void {
  if (!isServerAdmin(req)) {
    throw new HttpError('forbidden', 'only a server admin token may do this', [{ path: 'headers.authorization', message: 'needs a server admin token' }]);
  }
}

/**
 * The project a new sweep or dataset goes to, with `need` checked: `?project=<name>` when given,
 * else the token's only project, else the default project.
 */
export async function targetProject(db: Db, req: Request, need: ProjectRole): Promise<string> {
  // The route's other query parameters are checked by its own schema (or checkQueryKeys).
  const q = TargetProjectQuery.safeParse({ project: req.query['project'] });
  if (!q.success) throw invalid(q.error, 'query');
  const named = q.data.project;
  const noSuch = (name: string) => new HttpError('not_found', `no project ${name}`, [{ path: 'project', message: 'no such project' }]);
  let projectId: string;
  if (named !== undefined) {
    const project = await getProjectByName(db, named);
    if (!project || roleIn(req, project.id) === null) throw noSuch(named);
    projectId = project.id;
  } else {
    const grants = req.token && !req.token.serverAdmin ? req.token.grants : null;
    if (grants && grants.length === 1) projectId = grants[0]!.projectId;
    else if (grants && grants.length > 1 && !grants.some((g) => g.projectId === DEFAULT_PROJECT_ID)) {
      throw new HttpError('invalid_request', 'this token has several projects: name one with ?project=<name>', [{ path: 'project', message: 'is required for this token' }]);
    } else projectId = DEFAULT_PROJECT_ID;
  }
  requireRole(req, projectId, need, () => noSuch(String(named ?? 'default')));
  return projectId;
}

// A sweep never changes project: its project is remembered, so a scope check of a hot read (a
// cached sweep page) costs no query.
const sweepProjects = new Map<string, string>();
const SWEEP_PROJECTS_MAX = 100_000;

/**
 * The sweep's project, or null when there is no such sweep. A remembered project may outlive its
 * sweep (deleted, perhaps through another replica): `exists` reads the row again in that case.
 */
export async function sweepProject(db: Db, sweepId: string, options: { exists?: boolean } = {}): Promise<string | null> {
  const known = sweepProjects.get(sweepId);
  if (known !== undefined && !options.exists) return known;
  const projectId = await projectOfSweep(db, sweepId);
  if (projectId !== null) {
    if (sweepProjects.size >= SWEEP_PROJECTS_MAX) sweepProjects.clear();
    sweepProjects.set(sweepId, projectId);
  } else sweepProjects.delete(sweepId);
  return projectId;
}

/** Forgets a deleted sweep's project. */
export function forgetSweep(sweepId: string): void {
  sweepProjects.delete(sweepId);
}

export const noSuchSweep = (sweepId: string) => new HttpError('not_found', `no sweep ${sweepId}`, [{ path: 'sweepId', message: 'no such sweep' }]);

/**
 * 404 unless the sweep exists in a project the token sees; 403 unless its role there is `need`.
 * `exists`: for a route whose answer would not show a deleted sweep's absence (an empty list).
 */
export async function requireSweepAccess(db: Db, req: Request, sweepId: string, need: ProjectRole, options: { exists?: boolean } = {}): Promise<string> {
  const projectId = await sweepProject(db, sweepId, options);
  if (projectId === null) throw noSuchSweep(sweepId);
  requireRole(req, projectId, need, () => noSuchSweep(sweepId));
  return projectId;
}
