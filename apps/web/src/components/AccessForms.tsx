// The Access page's forms: a new project, a project's quotas, a new token, and the new token's
// secret (shown once). Each sends its request as typed and shows the API's refusal: the message,
// each detail at the field it names, and details about anything else by their path.
import { createProject, createToken, updateProjectQuotas, type CreatedToken, type Project } from '@hypersweep/client';
import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { useApp } from '../app/context.tsx';
import {
  EXPIRY_CHOICES,
  QUOTA_LABELS,
  QUOTA_NAMES,
  ROLE_HINTS,
  TOKEN_ROLES,
  emptyQuotaForm,
  newProjectRequest,
  newTokenRequest,
  quotaChange,
  quotaForm,
  refusalOf,
  type Expiry,
  type FormRefusal,
  type QuotaForm,
  type TokenForm,
  type TokenRole,
} from '../lib/access.ts';
import { Field } from './ui.tsx';

const NO_REFUSAL: FormRefusal = { message: '', fields: new Map(), other: [] };

/** The API's message and the details no field of the form shows, by path; nothing when there is no refusal. */
function RefusalSummary({ refusal, testId }: { refusal: FormRefusal; testId: string }) {
  if (!refusal.message) return null;
  return (
    <div className="error-banner" role="alert" data-testid={testId}>
      <p>{refusal.message}</p>
      {refusal.other.length > 0 ? (
        <ul>
          {refusal.other.map(([path, messages]) => (
            <li key={path} data-testid="form-error" data-path={path}>
              {path ? <code>{path}</code> : null} {messages.join('; ')}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/** A form's own check failed: its messages by field, under a one-line summary. */
function localRefusal(errors: FormRefusal['fields'], isField: (path: string) => boolean): FormRefusal {
  const other = [...errors].filter(([path]) => !isField(path));
  return { message: 'Check the highlighted fields.', fields: errors, other };
}

const quotaPath = (q: string) => `quotas.${q}`;
const isQuotaPath = (path: string) => QUOTA_NAMES.some((q) => path === quotaPath(q));

function QuotaInputs({ form, setForm, refusal }: { form: QuotaForm; setForm: (f: QuotaForm) => void; refusal: FormRefusal }) {
  return (
    <div className="form-grid">
      {QUOTA_NAMES.map((q) => (
        <Field key={q} label={`${QUOTA_LABELS[q].label} (${q})`} path={quotaPath(q)} errors={refusal.fields.get(quotaPath(q))}>
          {(props) => <input type="text" inputMode="numeric" autoComplete="off" placeholder="no limit" value={form[q]} onChange={(e) => setForm({ ...form, [q]: e.target.value })} {...props} />}
        </Field>
      ))}
    </div>
  );
}

export function NewProjectForm({ onCreated }: { onCreated: (project: Project) => void }) {
  const { api } = useApp();
  const [name, setName] = useState('');
  const [quotas, setQuotas] = useState<QuotaForm>(emptyQuotaForm);
  const [refusal, setRefusal] = useState<FormRefusal>(NO_REFUSAL);
  const [created, setCreated] = useState<Project | null>(null);
  const [busy, setBusy] = useState(false);
  const isField = (path: string) => path === 'name' || isQuotaPath(path);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setCreated(null);
    const checked = newProjectRequest(name, quotas);
    if (!checked.ok) return setRefusal(localRefusal(checked.errors, isField));
    setRefusal(NO_REFUSAL);
    setBusy(true);
    try {
      const project = await createProject(api, checked.value);
      setCreated(project);
      setName('');
      setQuotas(emptyQuotaForm());
      onCreated(project);
    } catch (err) {
      setRefusal(refusalOf(err, (path) => (isField(path) ? path : null)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="panel narrow-fields" onSubmit={(e) => void submit(e)} noValidate data-testid="project-form" aria-labelledby="project-form-heading">
      <h3 id="project-form-heading">New project</h3>
      <p className="hint">Server admins only. A name of a-z, 0-9, _ and - (at most 63); each quota a whole number, or empty for no limit.</p>
      <Field label="Name" path="name" errors={refusal.fields.get('name')}>
        {(props) => <input type="text" autoComplete="off" spellCheck={false} value={name} onChange={(e) => setName(e.target.value)} {...props} />}
      </Field>
      <QuotaInputs form={quotas} setForm={setQuotas} refusal={refusal} />
      <RefusalSummary refusal={refusal} testId="project-form-errors" />
      {created ? (
        <p className="ok" role="status" data-testid="project-created">
          Created project {created.name}.
        </p>
      ) : null}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy} data-testid="project-submit">
          Create project
        </button>
      </div>
    </form>
  );
}

/** The quota editor's element id, for the aria-controls of the button that opens it. */
export const QUOTA_EDITOR_ID = 'quota-editor';

export function QuotaEditor({ project, onSaved, onClose }: { project: Project; onSaved: (project: Project) => void; onClose: () => void }) {
  const { api } = useApp();
  const [form, setForm] = useState<QuotaForm>(() => quotaForm(project.quotas));
  const [refusal, setRefusal] = useState<FormRefusal>(NO_REFUSAL);
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLFormElement>(null);
  useEffect(() => first.current?.querySelector('input')?.focus(), []);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const checked = quotaChange(project.quotas, form);
    if (!checked.ok) return setRefusal(localRefusal(checked.errors, isQuotaPath));
    setRefusal(NO_REFUSAL);
    setBusy(true);
    try {
      onSaved(await updateProjectQuotas(api, project.name, checked.value));
    } catch (err) {
      setRefusal(refusalOf(err, (path) => (isQuotaPath(path) ? path : null)));
    } finally {
      setBusy(false);
    }
  }

  const closeOnEscape = (e: KeyboardEvent) => {
    if (e.key === 'Escape') onClose();
  };
  return (
    <form ref={first} id={QUOTA_EDITOR_ID} className="panel" onSubmit={(e) => void submit(e)} onKeyDown={closeOnEscape} noValidate data-testid="quota-form" data-project={project.name} aria-labelledby="quota-heading">
      <h3 id="quota-heading">Quotas of {project.name}</h3>
      <p className="hint">Server admins only. Empty lifts a quota. Work past a lowered quota waits; nothing running is stopped.</p>
      <QuotaInputs form={form} setForm={setForm} refusal={refusal} />
      <RefusalSummary refusal={refusal} testId="quota-form-errors" />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy} data-testid="quota-submit">
          Save quotas
        </button>
        <button type="button" onClick={onClose} data-testid="quota-close">
          Close
        </button>
      </div>
    </form>
  );
}

/** The grant fields of a token: the first project input also shows "needs a role in a project" (`grants`). */
function grantField(path: string, grantCount: number): string | null {
  if (path === 'grants') return 'grants[0].project';
  const m = /^grants\[(\d+)\]\.(project|role)$/.exec(path);
  return m && Number(m[1]) < grantCount ? path : null;
}

const EMPTY_TOKEN_FORM: TokenForm = { name: '', grants: [{ project: '', role: 'read' }], serverAdmin: false, expires: 'never' };

/**
 * `grantable`: the projects the caller may grant roles in (the API checks it too). `offerServerAdmin`:
 * whether the "server admin" checkbox shows (only a server admin may create one).
 */
export function NewTokenForm({ grantable, offerServerAdmin, onCreated }: { grantable: readonly Project[]; offerServerAdmin: boolean; onCreated: (token: CreatedToken) => void }) {
  const { api } = useApp();
  const [form, setForm] = useState<TokenForm>(EMPTY_TOKEN_FORM);
  // Keyboard focus after a row is added (its project select) or removed (the add button), so it
  // never falls back to the page.
  const grants = useRef<HTMLFieldSetElement>(null);
  const addGrant = useRef<HTMLButtonElement>(null);
  const [focusAfter, setFocusAfter] = useState<number | 'add' | null>(null);
  useEffect(() => {
    if (focusAfter === null) return;
    if (focusAfter === 'add') addGrant.current?.focus();
    else grants.current?.querySelector<HTMLElement>(`[data-testid="field-grants[${focusAfter}].project"]`)?.focus();
    setFocusAfter(null);
  }, [focusAfter]);
  const [refusal, setRefusal] = useState<FormRefusal>(NO_REFUSAL);
  const [busy, setBusy] = useState(false);
  // Without its checkbox, a refusal about serverAdmin is listed by its path, not lost at a missing field.
  const fieldOf = (path: string) => (path === 'name' || path === 'expiresAt' || (path === 'serverAdmin' && offerServerAdmin) ? path : grantField(path, form.grants.length));

  const setGrant = (i: number, change: Partial<TokenForm['grants'][number]>) => setForm({ ...form, grants: form.grants.map((g, j) => (j === i ? { ...g, ...change } : g)) });

  async function submit(e: FormEvent) {
    e.preventDefault();
    setRefusal(NO_REFUSAL);
    setBusy(true);
    try {
      // A box ticked before it was hidden is not sent.
      const created = await createToken(api, newTokenRequest({ ...form, serverAdmin: offerServerAdmin && form.serverAdmin }, Date.now()));
      setForm(EMPTY_TOKEN_FORM);
      onCreated(created);
    } catch (err) {
      setRefusal(refusalOf(err, fieldOf));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="panel narrow-fields" onSubmit={(e) => void submit(e)} noValidate data-testid="token-form" aria-labelledby="token-form-heading">
      <h3 id="token-form-heading">New token</h3>
      <p className="hint">A role in each project the token may use (you can grant roles only in projects you administer). The secret is shown once, after it is created.</p>
      <Field label="Name" path="name" errors={refusal.fields.get('name')} hint="What uses it, e.g. ci or a laptop.">
        {(props) => <input type="text" autoComplete="off" maxLength={100} value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} {...props} />}
      </Field>
      <fieldset className="grants" ref={grants}>
        <legend>Roles in projects</legend>
        {form.grants.map((g, i) => (
          <div key={i} className="grant-row" data-testid="grant-row">
            <Field label={`Project ${i + 1}`} path={`grants[${i}].project`} errors={refusal.fields.get(`grants[${i}].project`)}>
              {(props) => (
                <select value={g.project} onChange={(e) => setGrant(i, { project: e.target.value })} {...props}>
                  <option value="">Choose a project</option>
                  {grantable.map((p) => (
                    <option key={p.id} value={p.name}>
                      {p.name}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label={`Role in project ${i + 1}`} path={`grants[${i}].role`} errors={refusal.fields.get(`grants[${i}].role`)} hint={ROLE_HINTS[g.role]}>
              {(props) => (
                <select value={g.role} onChange={(e) => setGrant(i, { role: e.target.value as TokenRole })} {...props}>
                  {TOKEN_ROLES.map((r) => (
                    <option key={r} value={r}>
                      {r}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            {form.grants.length > 1 ? (
              <button type="button" className="small" onClick={() => {
                  setForm({ ...form, grants: form.grants.filter((_, j) => j !== i) });
                  setFocusAfter('add');
                }} aria-label={`Remove project ${i + 1}`} data-testid="grant-remove">
                Remove
              </button>
            ) : null}
          </div>
        ))}
        <button
          type="button"
          className="small"
          ref={addGrant}
          onClick={() => {
            setForm({ ...form, grants: [...form.grants, { project: '', role: 'read' }] });
            setFocusAfter(form.grants.length);
          }}
          data-testid="grant-add"
        >
          Add a project
        </button>
      </fieldset>
      <Field label="Expires" path="expiresAt" errors={refusal.fields.get('expiresAt')}>
        {(props) => (
          <select value={form.expires} onChange={(e) => setForm({ ...form, expires: e.target.value as Expiry })} {...props}>
            {EXPIRY_CHOICES.map((c) => (
              <option key={c.value} value={c.value}>
                {c.label}
              </option>
            ))}
          </select>
        )}
      </Field>
      {offerServerAdmin ? (
        <Field label="Server admin" path="serverAdmin" errors={refusal.fields.get('serverAdmin')} hint="Sees and manages every project, token and quota. Only a server admin may create one.">
          {(props) => (
            <span className="inline">
              <input type="checkbox" checked={form.serverAdmin} onChange={(e) => setForm({ ...form, serverAdmin: e.target.checked })} {...props} />
            </span>
          )}
        </Field>
      ) : null}
      <RefusalSummary refusal={refusal} testId="token-form-errors" />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy} data-testid="token-submit">
          Create token
        </button>
      </div>
    </form>
  );
}

/**
 * The new token's secret, the only time it is shown (the API keeps its hash only): a read-only
 * field, a copy button, and a warning. Done drops it from the page's memory.
 */
export function TokenSecret({ token, onDone }: { token: CreatedToken; onDone: () => void }) {
  const [copy, setCopy] = useState<'idle' | 'copied' | 'failed'>('idle');
  const panel = useRef<HTMLElement>(null);
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => panel.current?.focus(), []);

  async function copySecret() {
    try {
      await navigator.clipboard.writeText(token.token);
      setCopy('copied');
    } catch {
      // No clipboard (an insecure origin, a denied permission): select it for Ctrl+C instead.
      field.current?.select();
      setCopy('failed');
    }
  }

  return (
    <section ref={panel} tabIndex={-1} className="panel secret-panel" aria-labelledby="secret-heading" data-testid="token-secret-panel">
      <h3 id="secret-heading">Copy the token “{token.name}” now</h3>
      <p className="note" data-testid="token-secret-warning">
        <strong>This is the only time the secret is shown.</strong> Hypersweep stores only its hash: once you leave or press Done, it cannot be shown again (revoke it and create another
        if it is lost). Use it as <code>HYPERSWEEP_TOKEN</code> or <code>Authorization: Bearer …</code>.
      </p>
      <div className="field">
        <label htmlFor="token-secret">Secret of {token.name}</label>
        <div className="inline">
          <input ref={field} id="token-secret" className="secret" type="text" readOnly value={token.token} onFocus={(e) => e.currentTarget.select()} spellCheck={false} autoComplete="off" data-testid="token-secret" />
          <button type="button" onClick={() => void copySecret()} data-testid="copy-token-secret">
            Copy
          </button>
        </div>
        <span role="status" className={copy === 'failed' ? 'field-error' : 'ok'} data-testid="copy-status">
          {copy === 'copied' ? 'Copied to the clipboard.' : copy === 'failed' ? 'The clipboard is not available: the secret is selected, press Ctrl+C (⌘C).' : ''}
        </span>
      </div>
      <div className="form-actions">
        <button type="button" className="primary" onClick={onDone} data-testid="token-secret-done">
          Done, I have stored it
        </button>
      </div>
    </section>
  );
}
