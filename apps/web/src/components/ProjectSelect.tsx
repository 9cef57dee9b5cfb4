// The "Project" select of the forms that create something in a project (a sweep, a dataset upload):
// the projects where the caller may submit, preselected as src/lib/projects.ts says. When GET
// /projects fails the form works without it (the request names no project and the API picks) and
// shows why.
import { listProjects } from '@hypersweep/client';
import type { ErrorDetail } from '@hypersweep/schemas';
import { useMemo, useState } from 'react';
import { useApp } from '../app/context.tsx';
import { useAsync } from '../app/hooks.ts';
import { loadRememberedProject, rememberProject } from '../app/remembered-project.ts';
import { PROJECT_PATH, preselectProject, projectProblem, submittableProjects } from '../lib/projects.ts';
import { ErrorBanner, Field } from './ui.tsx';

export interface TargetProject {
  /** The projects offered; null until GET /projects answers, or when it failed. */
  readonly offered: readonly string[] | null;
  readonly selected: string | null;
  readonly select: (project: string | null) => void;
  /** What GET /projects failed with. */
  readonly error: Error | undefined;
  /** GET /projects has not answered yet: a submission now would name no project, so forms wait. */
  readonly loading: boolean;
  readonly retry: () => void;
  /** Before sending: a project must be chosen when some are offered. */
  readonly problem: ErrorDetail | null;
  /** The request's `project`: undefined lets the API pick. */
  readonly project: string | undefined;
  /** After a successful submission: the next form starts on this project. */
  readonly remember: () => void;
}

export function useTargetProject(): TargetProject {
  const { api } = useApp();
  const projects = useAsync((signal) => listProjects(api, { signal }), [api]);
  const offered = useMemo(() => (projects.data ? submittableProjects(projects.data) : null), [projects.data]);
  const preselected = useMemo(() => (offered ? preselectProject(offered, loadRememberedProject()) : null), [offered]);
  // undefined: the user has not chosen, the preselection holds.
  const [chosen, setChosen] = useState<string | null | undefined>(undefined);
  const selected = chosen !== undefined ? chosen : preselected;
  const project = offered && selected !== null && offered.includes(selected) ? selected : undefined;
  return {
    offered,
    selected,
    select: setChosen,
    error: projects.data ? undefined : projects.error,
    loading: projects.data === undefined && !projects.error,
    retry: projects.reload,
    problem: projectProblem(offered, selected),
    project,
    remember: () => {
      if (project !== undefined) rememberProject(project);
    },
  };
}

/** The select (at `field-project`), with `errors` (the form's check, the API's refusal) under it. */
export function ProjectSelect({ target, errors, hint }: { target: TargetProject; errors: readonly string[]; hint?: string }) {
  const offered = target.offered;
  // Without a select, the form's check or the API's refusal still shows where the select would be.
  const errorLine =
    errors.length > 0 ? (
      <span className="field-error" data-testid={`error-${PROJECT_PATH}`} role="alert">
        {errors.join('; ')}
      </span>
    ) : null;
  if (target.error) {
    return (
      <div className="field" data-field={PROJECT_PATH} data-testid="projects-error">
        <p className="hint">The projects could not be listed: the API puts it in the token&apos;s only project, else in default.</p>
        <ErrorBanner error={target.error} onRetry={target.retry} />
        {errorLine}
      </div>
    );
  }
  if (offered === null) return errorLine;
  if (offered.length === 0) {
    return (
      <div className="field" data-field={PROJECT_PATH}>
        <p className="hint" data-testid="projects-none">
          This token may submit in no project it sees (its role is read everywhere): the API will refuse.
        </p>
        {errorLine}
      </div>
    );
  }
  return (
    <Field label="Project" path={PROJECT_PATH} errors={errors} hint={hint}>
      {(p) => (
        <select {...p} value={target.selected ?? ''} onChange={(e) => target.select(e.target.value === '' ? null : e.target.value)}>
          {target.selected === null ? <option value="">choose a project…</option> : null}
          {offered.map((name) => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
      )}
    </Field>
  );
}
