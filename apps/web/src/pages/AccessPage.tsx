// Access: projects with their quotas and usage (create one, edit quotas: server admins), and API
// tokens (create one with roles in projects, its secret shown once; revoke after confirming). What
// `hypersweep token create|list|revoke` and the /projects routes do, in the browser. The page asks
// /me once and shows a token only the controls it may use; the API's 403 stays the judge (a section
// the token may not use shows the API's message where its table would be, a form its refusal).
import { listProjects, listTokens, revokeToken, whoAmI, type CreatedToken, type Project, type TokenRecord, type WhoAmI } from '@hypersweep/client';
import { useState } from 'react';
import { useApp } from '../app/context.tsx';
import { useAsync } from '../app/hooks.ts';
import { NewProjectForm, NewTokenForm, QUOTA_EDITOR_ID, QuotaEditor, TokenSecret } from '../components/AccessForms.tsx';
import { ErrorBanner, Loading } from '../components/ui.tsx';
import {
  QUOTA_LABELS,
  QUOTA_NAMES,
  callerOf,
  callerSummary,
  formatBytes,
  grantableProjects,
  isSignedInWith,
  managesTokens,
  offersServerAdminControls,
  tokenState,
  type Caller,
  type QuotaName,
} from '../lib/access.ts';

function Time({ at, none = '—' }: { at: string | null; none?: string }) {
  return at === null ? <>{none}</> : <time dateTime={at}>{new Date(at).toLocaleString()}</time>;
}

function quotaCell(project: Project, q: QuotaName): string {
  const { usage, bytes } = QUOTA_LABELS[q];
  const show = (n: number) => (bytes ? formatBytes(n) : n.toLocaleString());
  const limit = project.quotas[q];
  return `${show(project.usage[usage])} / ${limit === null ? 'no limit' : show(limit)}`;
}

function ProjectsSection({ projects, error, reload, caller }: { projects: Project[] | undefined; error: Error | undefined; reload: () => void; caller: Caller }) {
  const manage = offersServerAdminControls(caller);
  const [editing, setEditing] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const project = projects?.find((p) => p.name === editing);
  const close = (name: string) => {
    setEditing(null);
    // Back to the button that opened the editor, for keyboard users.
    requestAnimationFrame(() => document.querySelector<HTMLButtonElement>(`[data-testid="edit-quotas"][data-project="${CSS.escape(name)}"]`)?.focus());
  };
  return (
    <section className="panel" aria-labelledby="projects-heading" data-testid="projects-section">
      <div className="panel-head">
        <h2 id="projects-heading">Projects</h2>
        <button type="button" onClick={reload} data-testid="projects-refresh">
          Refresh
        </button>
      </div>
      <p className="hint">Each quota as used now / its limit. Your role is what this browser’s token may do in the project.</p>
      {caller.kind === 'known' && !manage ? (
        <p className="hint" data-testid="quotas-read-only">
          A server admin creates projects and sets their quotas: ask one to change them.
        </p>
      ) : null}
      <ErrorBanner error={error} onRetry={reload} />
      {!projects && !error ? <Loading what="projects" /> : null}
      {projects ? (
        projects.length === 0 ? (
          <p className="empty" data-testid="projects-empty">
            This token has a role in no project.
          </p>
        ) : (
          <div className="table-scroll">
            <table data-testid="projects-table">
              <thead>
                <tr>
                  <th scope="col">Project</th>
                  <th scope="col">Your role</th>
                  {QUOTA_NAMES.map((q) => (
                    <th key={q} scope="col" title={q}>
                      {QUOTA_LABELS[q].label}
                    </th>
                  ))}
                  <th scope="col">Created</th>
                  {manage ? (
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  ) : null}
                </tr>
              </thead>
              <tbody>
                {projects.map((p) => (
                  <tr key={p.id} data-testid="project-row" data-project={p.name}>
                    <th scope="row">{p.name}</th>
                    <td data-testid="project-role">{p.role}</td>
                    {QUOTA_NAMES.map((q) => (
                      <td key={q} className="num" data-quota={q} data-limit={p.quotas[q] ?? ''}>
                        {quotaCell(p, q)}
                      </td>
                    ))}
                    <td>
                      <Time at={p.createdAt} />
                    </td>
                    {manage ? (
                      <td>
                        {/* A server admin is admin everywhere: any other role cannot set quotas (unknown caller: the API's 403 says so). */}
                        {p.role === 'admin' ? (
                          <button type="button" className="small" onClick={() => { setSaved(null); setEditing(p.name); }} aria-label={`Edit quotas of ${p.name}`} aria-expanded={editing === p.name} aria-controls={editing === p.name ? QUOTA_EDITOR_ID : undefined} data-testid="edit-quotas" data-project={p.name}>
                            Edit quotas
                          </button>
                        ) : (
                          <small className="hint">set by a server admin</small>
                        )}
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : null}
      {saved ? (
        <p className="ok" role="status" data-testid="quotas-saved">
          Saved the quotas of {saved}.
        </p>
      ) : null}
      {project && manage ? (
        <QuotaEditor
          key={project.name}
          project={project}
          onSaved={(p) => {
            setSaved(p.name);
            reload();
            close(p.name);
          }}
          onClose={() => close(project.name)}
        />
      ) : null}
      {manage ? <NewProjectForm onCreated={reload} /> : null}
    </section>
  );
}

function grantsText(t: TokenRecord): string {
  return t.grants.map((g) => `${g.project}: ${g.role}`).join(', ');
}

function TokensSection({ projects, caller }: { projects: readonly Project[]; caller: Caller }) {
  const { api, token: signedInWith } = useApp();
  const tokens = useAsync((signal) => listTokens(api, { signal }), [api]);
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [revoked, setRevoked] = useState<TokenRecord | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);
  const [showInactive, setShowInactive] = useState(false);
  const now = Date.now();
  const all = tokens.data ?? [];
  const inactive = all.filter((t) => tokenState(t, now) !== 'active').length;
  const shown = showInactive ? all : all.filter((t) => tokenState(t, now) === 'active');

  async function revoke(t: TokenRecord) {
    const self = isSignedInWith(t, signedInWith) ? '\n\nThis browser signs in with it: you will be signed out.' : '';
    if (!window.confirm(`Revoke the token "${t.name}" (${t.prefix}…)? Anything that uses it is refused (401) from now on.${self}`)) return;
    setActionError(null);
    setRevoked(null);
    try {
      await revokeToken(api, t.id);
      setRevoked(t);
      tokens.reload();
    } catch (err) {
      setActionError(err);
    }
  }

  return (
    <section className="panel" aria-labelledby="tokens-heading" data-testid="tokens-section">
      <div className="panel-head">
        <h2 id="tokens-heading" tabIndex={-1}>
          API tokens
        </h2>
        <div className="actions">
          <label>
            <input type="checkbox" checked={showInactive} onChange={(e) => setShowInactive(e.target.checked)} data-testid="tokens-show-inactive" /> Show revoked and expired ({inactive})
          </label>
          <button type="button" onClick={tokens.reload} data-testid="tokens-refresh">
            Refresh
          </button>
        </div>
      </div>
      <p className="hint">Tokens are listed by their prefix; the API keeps only a hash of each secret.</p>
      {created ? (
        <TokenSecret
          token={created}
          onDone={() => {
            setCreated(null);
            // The secret's panel is gone: keyboard focus goes back to the section, not to the page's top.
            requestAnimationFrame(() => document.getElementById('tokens-heading')?.focus());
          }}
        />
      ) : null}
      <ErrorBanner error={tokens.error} onRetry={tokens.reload} />
      <ErrorBanner error={actionError} />
      {revoked ? (
        <p className="ok" role="status" data-testid="token-revoked">
          Revoked {revoked.name} ({revoked.prefix}…).
        </p>
      ) : null}
      {!tokens.data && !tokens.error ? <Loading what="tokens" /> : null}
      {tokens.data ? (
        shown.length === 0 ? (
          <p className="empty" data-testid="tokens-empty">
            No {showInactive ? '' : 'active '}token you manage.
          </p>
        ) : (
          <div className="table-scroll">
            <table data-testid="tokens-table">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Prefix</th>
                  <th scope="col">Roles</th>
                  <th scope="col">State</th>
                  <th scope="col">Created</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Expires</th>
                  <th scope="col">
                    <span className="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.map((t) => {
                  const state = tokenState(t, now);
                  const self = isSignedInWith(t, signedInWith);
                  return (
                    <tr key={t.id} data-testid="token-row" data-token-id={t.id} data-state={state}>
                      <th scope="row">
                        {t.name} {self ? <small className="hint">(this browser)</small> : null}
                      </th>
                      <td>
                        <code>{t.prefix}…</code>
                      </td>
                      <td data-testid="token-grants">
                        {t.serverAdmin ? <strong>server admin</strong> : null}
                        {t.serverAdmin && t.grants.length > 0 ? '; ' : null}
                        {grantsText(t)}
                      </td>
                      <td data-testid="token-state">{state}</td>
                      <td>
                        <Time at={t.createdAt} />
                      </td>
                      <td data-testid="token-last-used">
                        <Time at={t.lastUsedAt} none="never" />
                      </td>
                      <td>
                        <Time at={t.expiresAt} none="never" />
                      </td>
                      <td>
                        {state === 'active' ? (
                          <button type="button" className="small danger" onClick={() => void revoke(t)} aria-label={`Revoke ${t.name} (${t.prefix}…)`} data-testid="revoke-token">
                            Revoke
                          </button>
                        ) : null}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )
      ) : null}
      <NewTokenForm
        grantable={grantableProjects(projects, caller)}
        offerServerAdmin={offersServerAdminControls(caller)}
        onCreated={(t) => {
          setRevoked(null);
          setCreated(t);
          tokens.reload();
        }}
      />
    </section>
  );
}

/** Who is signed in: the token's name and roles, or that authentication is off. */
function SignedInAs({ me }: { me: WhoAmI }) {
  const { name, roles } = callerSummary(me);
  return (
    <p className="hint" data-testid="signed-in-as" data-server-admin={me.serverAdmin}>
      {name === null ? (
        <>Authentication is off on this server: every request acts as a server admin.</>
      ) : (
        <>
          Signed in with the token <strong data-testid="signed-in-name">{name}</strong> ({roles}).
        </>
      )}
    </p>
  );
}

export function AccessPage() {
  const { api } = useApp();
  const projects = useAsync((signal) => listProjects(api, { signal }), [api]);
  const me = useAsync((signal) => whoAmI(api, { signal }), [api]);
  const caller = callerOf(me);
  return (
    <main id="main" className="page" data-testid="access-page" data-caller={caller.kind}>
      <div className="page-head">
        <h1>Access</h1>
      </div>
      <p className="hint">
        Projects, their quotas, and the API tokens that may use them: the same as <code>hypersweep token create|list|revoke</code> and the <code>/api/v1/projects</code> routes.
      </p>
      {caller.kind === 'known' ? <SignedInAs me={caller.me} /> : null}
      {me.error ? (
        <div data-testid="me-error">
          <p className="hint">Could not ask the API who this token is: every control shows, and the API refuses what the token may not do.</p>
          <ErrorBanner error={me.error} onRetry={me.reload} />
        </div>
      ) : null}
      <ProjectsSection projects={projects.data} error={projects.error} reload={projects.reload} caller={caller} />
      {managesTokens(caller) ? (
        <TokensSection projects={projects.data ?? []} caller={caller} />
      ) : caller.kind === 'known' ? (
        <p className="hint" data-testid="tokens-not-managed">
          Tokens are managed by an admin of a project or a server admin; this token has no admin role.
        </p>
      ) : null}
    </main>
  );
}
