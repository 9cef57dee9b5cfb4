// Control of a sweep on its page: the "Edit budget" form and the "Add configurations" form (each
// checked locally, then by the API, whose 4xx details are shown at the field they name), and the
// activity log of the sweep's controls (its sweep.control events).
import { ApiError, describeSweepControl, enqueueTrials, updateSweepBudget, type SweepControl } from '@hypersweep/client';
import type { Sweep, Trial } from '@hypersweep/schemas';
import { useState, type FormEvent } from 'react';
import { useApp } from '../app/context.tsx';
import { BUDGET_FIELDS, budgetChange, budgetForm, errorsByPath, parseConfigurations, type BudgetField, type BudgetForm, type FieldErrors } from '../lib/sweep-control.ts';
import { ErrorBanner, Field, Link } from './ui.tsx';

const BUDGET_LABELS: Record<BudgetField, { label: string; hint?: string }> = {
  maxTrials: { label: 'Trials in all (maxTrials)' },
  maxConcurrentTrials: { label: 'Trials at once (maxConcurrentTrials)' },
  maxTotalEpochs: { label: 'Epochs over all trials (maxTotalEpochs)', hint: 'Empty: no limit.' },
};

/**
 * A refused request's problems by path when they are about its fields (a 400), shown where they
 * belong; null for any other failure (a 409 of a sweep that ended, the API unreachable), which the
 * form shows whole in its banner.
 */
function apiFieldErrors(error: unknown): FieldErrors | null {
  return error instanceof ApiError && error.status === 400 && error.details.length > 0 ? errorsByPath(error.details) : null;
}

/** Messages of paths the form has no field for (the request as a whole, an unknown field). */
function otherErrors(errors: FieldErrors, placed: (path: string) => boolean): [string, readonly string[]][] {
  return [...errors].filter(([path]) => !placed(path));
}

export function BudgetEditor({ sweep, onSaved, onClose }: { sweep: Sweep; onSaved: (sweep: Sweep) => void; onClose: () => void }) {
  const { api } = useApp();
  const current = sweep.spec.search.budget;
  const [form, setForm] = useState<BudgetForm>(() => budgetForm(current));
  const [errors, setErrors] = useState<FieldErrors>(new Map());
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const checked = budgetChange(current, form);
    setFailure(null);
    if (!checked.ok) {
      setErrors(checked.errors);
      return;
    }
    setErrors(new Map());
    setBusy(true);
    try {
      onSaved(await updateSweepBudget(api, sweep.id, checked.value));
    } catch (err) {
      const byPath = apiFieldErrors(err);
      if (byPath) setErrors(byPath);
      else setFailure(err);
    } finally {
      setBusy(false);
    }
  }

  const isField = (path: string) => BUDGET_FIELDS.some((f) => path === `budget.${f}`);
  const rest = otherErrors(errors, isField);
  return (
    <form className="panel" onSubmit={(e) => void submit(e)} noValidate data-testid="budget-form" aria-labelledby="budget-heading">
      <h2 id="budget-heading">Edit budget</h2>
      <p className="hint">
        Now: {current.maxTrials} trials, {current.maxConcurrentTrials} at once, {current.maxTotalEpochs ?? 'no limit on'} epochs in all. The sweep has {sweep.counts.total} trials and{' '}
        {sweep.progress.epochsDone} epochs: a budget below that is refused.
      </p>
      <div className="form-grid">
        {BUDGET_FIELDS.map((field) => (
          <Field key={field} label={BUDGET_LABELS[field].label} path={`budget.${field}`} errors={errors.get(`budget.${field}`)} {...(BUDGET_LABELS[field].hint ? { hint: BUDGET_LABELS[field].hint } : {})}>
            {(props) => <input type="text" inputMode="numeric" value={form[field]} onChange={(e) => setForm({ ...form, [field]: e.target.value })} {...props} />}
          </Field>
        ))}
      </div>
      {rest.length > 0 ? (
        <ul className="field-error" data-testid="budget-errors">
          {rest.map(([path, messages]) => (
            <li key={path} data-path={path}>
              {path ? <code>{path}</code> : null} {messages.join('; ')}
            </li>
          ))}
        </ul>
      ) : null}
      <ErrorBanner error={failure} />
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy} data-testid="budget-submit">
          Save budget
        </button>
        <button type="button" onClick={onClose} data-testid="budget-close">
          Close
        </button>
      </div>
    </form>
  );
}

export function ConfigurationsEditor({ sweep, initialText, onQueued, onClose }: { sweep: Sweep; initialText: string; onQueued: (trials: Trial[]) => void; onClose: () => void }) {
  const { api } = useApp();
  const [text, setText] = useState(initialText);
  const [errors, setErrors] = useState<FieldErrors>(new Map());
  const [failure, setFailure] = useState<unknown>(null);
  const [queued, setQueued] = useState<Trial[] | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const checked = parseConfigurations(text);
    setFailure(null);
    setQueued(null);
    if (!checked.ok) {
      setErrors(checked.errors);
      return;
    }
    setErrors(new Map());
    setBusy(true);
    try {
      const trials = await enqueueTrials(api, sweep.id, checked.value);
      setQueued(trials);
      onQueued(trials);
    } catch (err) {
      const byPath = apiFieldErrors(err);
      if (byPath) setErrors(byPath);
      else setFailure(err);
    } finally {
      setBusy(false);
    }
  }

  // A JSON syntax error is about the text itself: shown at the field; the rest, one line per path.
  const listed = otherErrors(errors, (path) => path === '');
  return (
    <form className="panel" onSubmit={(e) => void submit(e)} noValidate data-testid="enqueue-form" aria-labelledby="enqueue-heading">
      <h2 id="enqueue-heading">Add configurations</h2>
      <p className="hint">
        Trials with exactly these parameters, queued now (a warm start, or your own guesses): one JSON object, or an array of up to 100. Each needs a value inside the search space for
        every parameter ({Object.keys(sweep.spec.search.space).join(', ') || 'none'}).
      </p>
      <Field label="Configurations (JSON)" path="params" errors={errors.get('')}>
        {(props) => <textarea className="json-editor" rows={8} spellCheck={false} value={text} onChange={(e) => setText(e.target.value)} {...props} />}
      </Field>
      {listed.length > 0 ? (
        <ul className="field-error" role="alert" data-testid="enqueue-errors">
          {listed.map(([path, messages]) => (
            <li key={path} data-testid="enqueue-error" data-path={path}>
              <code>{path}</code>: {messages.join('; ')}
            </li>
          ))}
        </ul>
      ) : null}
      <ErrorBanner error={failure} />
      {queued ? (
        <p className="ok" role="status" data-testid="enqueue-result">
          Queued{' '}
          {queued.map((t, i) => (
            <span key={t.id}>
              {i > 0 ? ', ' : ''}
              <Link href={`/sweeps/${sweep.id}/trials/${t.id}`}>#{t.number}</Link>
            </span>
          ))}
          .
        </p>
      ) : null}
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy} data-testid="enqueue-submit">
          Queue trials
        </button>
        <button type="button" onClick={onClose} data-testid="enqueue-close">
          Close
        </button>
      </div>
    </form>
  );
}

/** The sweep's controls, newest first; enqueued trials by number where the page knows them. */
export function SweepActivity({ sweepId, controls, trialNumber }: { sweepId: string; controls: readonly SweepControl[]; trialNumber: (trialId: string) => number | undefined }) {
  return (
    <section className="panel" aria-labelledby="activity-heading">
      <h2 id="activity-heading">Activity</h2>
      {controls.length === 0 ? (
        <p className="hint" data-testid="sweep-activity-empty">
          No pause, resume, budget change or added configuration yet.
        </p>
      ) : (
        <ol className="events" data-testid="sweep-activity" aria-live="polite">
          {[...controls].reverse().map((c) => (
            <li key={c.id} data-testid="activity-item" data-action={c.action}>
              <time dateTime={c.at}>{new Date(c.at).toLocaleString()}</time> {describeSweepControl(c)}
              {c.action === 'enqueued' && c.trialIds && c.trialIds.length > 0 ? (
                <>
                  {': '}
                  {c.trialIds.map((id, i) => {
                    const n = trialNumber(id);
                    return (
                      <span key={id}>
                        {i > 0 ? ', ' : ''}
                        <Link href={`/sweeps/${sweepId}/trials/${id}`}>{n === undefined ? id.slice(0, 8) : `#${n}`}</Link>
                      </span>
                    );
                  })}
                </>
              ) : null}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
