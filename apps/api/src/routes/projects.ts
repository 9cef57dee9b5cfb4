// Projects: what a token sees of them (its role, the quotas and what is used against them). Only
// a server admin creates projects and sets quotas: they are the cluster operator's.
import { DbError, createProject, getProjectByName, listProjects, projectUsage, updateProjectQuotas, type ProjectInfo as ProjectRow } from '@hypersweep/db';
import { CreateProjectRequest, ProjectPathParams, UpdateProjectRequest, type ProjectInfo } from '@hypersweep/schemas';
import { Router, type Request } from 'express';
import type { ApiDeps } from '../deps.ts';
import { HttpError } from '../errors.ts';
import { requireServerAdmin, roleIn, visibleProjectIds } from '../scope.ts';
import { parseJsonBody, parseParams } from '../validate.ts';

export function projectRoutes(deps: ApiDeps): Router {
  const router = Router();
  const present = async (req: Request, row: ProjectRow): Promise<ProjectInfo> => ({
    id: row.id,
    name: row.name,
    createdAt: row.createdAt.toISOString(),
    role: roleIn(req, row.id) ?? 'read',
    quotas: row.quotas,
    usage: await projectUsage(deps.db, row.id),
  });
  /** The named project when the token sees it, else 404. */
  const visible = async (req: Request): Promise<ProjectRow> => {
    const { project: name } = parseParams(ProjectPathParams, req);
    const row = await getProjectByName(deps.db, name);
    if (!row || roleIn(req, row.id) === null) throw new HttpError('not_found', `no project ${name}`, [{ path: 'project', message: 'no such project' }]);
    return row;
  };

  router.get('/projects', async (req, res) => {
    const rows = await listProjects(deps.db, visibleProjectIds(req));
    const items = [];
    for (const row of rows) items.push(await present(req, row));
    res.json({ items });
  });

  router.post('/projects', async (req, res) => {
    requireServerAdmin(req);
    const body = parseJsonBody(CreateProjectRequest, req);
    const row = await createProject(deps.db, body.name, body.quotas).catch((error: unknown) => {
      if (error instanceof DbError && error.code === 'unique_violation') {
        throw new HttpError('conflict', `a project named ${body.name} exists`, [{ path: 'name', message: 'is taken by another project' }]);
      }
      throw error;
    });
    res.status(201).location(`/api/v1/projects/${row.name}`).json(await present(req, row));
  });

  router.get('/projects/:project', async (req, res) => {
    res.json(await present(req, await visible(req)));
  });

  router.patch('/projects/:project', async (req, res) => {
    const row = await visible(req);
    requireServerAdmin(req);
    const body = parseJsonBody(UpdateProjectRequest, req);
    const updated = await updateProjectQuotas(deps.db, row.id, body.quotas);
    if (!updated) throw new HttpError('not_found', `no project ${row.name}`, [{ path: 'project', message: 'no such project' }]);
    res.json(await present(req, updated));
  });
  return router;
}
