// Projects on the dashboard's pages, as pure functions over GET /projects (each project with the
// caller's role): which projects a new sweep or upload may go to and which one is preselected, the
// check that one is chosen, the API's refusals about `?project=` placed at the select, and whether the
// sweeps list shows its project column and filter.
import type { ErrorDetail, ProjectRole } from '@hypersweep/schemas';

/** Where the API puts a problem with `?project=` (scope.ts `targetProject`, the query schemas). */
export const PROJECT_PATH = 'project';

/** The project the default goes to when a token has a role there (scope.ts: DEFAULT_PROJECT_ID). */
export const DEFAULT_PROJECT = 'default';

/** A project as GET /projects lists it: only its name and the caller's role matter here. */
export interface VisibleProject {
  readonly name: string;
  readonly role: ProjectRole;
}

/** Roles that may submit a sweep or upload a dataset (read < submit < admin). */
const SUBMITTING_ROLES: ReadonlySet<ProjectRole> = new Set(['submit', 'admin']);

/** The projects a new sweep or dataset may go to: those where the caller may submit, by name. */
export function submittableProjects(projects: readonly VisibleProject[]): string[] {
  return projects
    .filter((p) => SUBMITTING_ROLES.has(p.role))
    .map((p) => p.name)
    .sort((a, b) => a.localeCompare(b));
}

/**
 * The project the select starts on: the only one offered; else the one of the last submission
 * while it is still offered; else `default` when offered (where the API puts a request that names
 * none); else none, and the user chooses.
 */
export function preselectProject(offered: readonly string[], remembered: string | null): string | null {
  if (offered.length === 1) return offered[0]!;
  if (remembered !== null && offered.includes(remembered)) return remembered;
  if (offered.includes(DEFAULT_PROJECT)) return DEFAULT_PROJECT;
  return null;
}

/**
 * The project problem of a request before it is sent: with projects offered, one must be chosen (a
 * request naming none would be the API's 400 for a token with several projects, or land in a project
 * the user did not pick). Unknown projects (GET /projects failed or pending) or none offered: the
 * API picks, and judges.
 */
export function projectProblem(offered: readonly string[] | null, selected: string | null): ErrorDetail | null {
  if (offered === null || offered.length === 0) return null;
  if (selected !== null && offered.includes(selected)) return null;
  return { path: PROJECT_PATH, message: 'choose the project it goes to' };
}

/**
 * An API refusal's details split into the messages shown at the project select and the rest. A
 * `project` key in a sweep's body is no field of it ("is not a known field"): that one stays with
 * the body's problems, in the editor.
 */
export function splitProjectErrors(details: readonly ErrorDetail[]): { project: string[]; rest: ErrorDetail[] } {
  const project: string[] = [];
  const rest: ErrorDetail[] = [];
  for (const d of details) {
    if (d.path === PROJECT_PATH && d.message !== 'is not a known field') project.push(d.message);
    else rest.push(d);
  }
  return { project, rest };
}

/**
 * Whether the sweeps list shows the project column and filter: when the caller sees more than one
 * project, or a filter is set (so it can be cleared). Without the projects (GET /projects failed or
 * pending), when the sweeps listed are of more than one project.
 */
export function showsProjects(visible: readonly string[] | null, sweeps: readonly { readonly project?: string | undefined }[], filter: string | null): boolean {
  if (filter !== null) return true;
  if (visible !== null) return visible.length > 1;
  return new Set(sweeps.map((s) => s.project).filter((p) => p !== undefined)).size > 1;
}

/** The filter's projects: every project the caller sees, and the filter's own when it is not one of them. */
export function projectFilterOptions(visible: readonly string[] | null, filter: string | null): string[] {
  const names = [...(visible ?? [])];
  if (filter !== null && !names.includes(filter)) names.push(filter);
  return names.sort((a, b) => a.localeCompare(b));
}
