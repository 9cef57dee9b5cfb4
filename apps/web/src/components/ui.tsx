// Shared presentational pieces: links that use the client-side router, state badges (colour and
// text, never colour alone), per-state counts, progress, errors and form fields with their messages.
import type { SweepStatus, TrialCounts, TrialStatus } from '@hypersweep/schemas';
import type { AnchorHTMLAttributes, ReactNode } from 'react';
import { useId } from 'react';
import { ApiError } from '@hypersweep/client';
import { useApp } from '../app/context.tsx';
import { STATUS_COLORS } from '../lib/palette.ts';

export function Link({ href, children, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const { navigate } = useApp();
  return (
    <a
      href={href}
      onClick={(e) => {
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey || rest.target) return;
        e.preventDefault();
        navigate(href);
      }}
      {...rest}
    >
      {children}
    </a>
  );
}

export function StatusBadge({ status }: { status: TrialStatus | SweepStatus }) {
  return (
    <span className={`badge badge-${status}`} data-testid="status-badge" data-status={status}>
      <span className="badge-dot" style={{ background: STATUS_COLORS[status] }} aria-hidden="true" />
      {status}
    </span>
  );
}

const COUNT_STATES: readonly TrialStatus[] = ['queued', 'running', 'completed', 'stopped', 'failed', 'cancelled'];

export function TrialCountsBar({ counts }: { counts: TrialCounts }) {
  const total = Math.max(1, counts.total);
  return (
    <div className="counts" data-testid="trial-counts">
      <div className="counts-bar" aria-hidden="true">
        {COUNT_STATES.map((s) =>
          counts[s] > 0 ? <span key={s} style={{ width: `${(100 * counts[s]) / total}%`, background: STATUS_COLORS[s] }} /> : null,
        )}
      </div>
      <ul className="counts-list" aria-label="Trials per state">
        {COUNT_STATES.filter((s) => counts[s] > 0).map((s) => (
          <li key={s} data-state={s}>
            <span className="badge-dot" style={{ background: STATUS_COLORS[s] }} aria-hidden="true" />
            {counts[s]} {s}
          </li>
        ))}
        {counts.total === 0 ? <li>no trials yet</li> : null}
      </ul>
    </div>
  );
}

export function Progress({ fraction, label }: { fraction: number; label: string }) {
  const pct = Math.round(Math.max(0, Math.min(1, fraction)) * 100);
  return (
    <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
      <span style={{ width: `${pct}%` }} />
      <em>{pct}%</em>
    </div>
  );
}

export function ErrorBanner({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  const details = error instanceof ApiError ? error.details : [];
  return (
    <div className="error-banner" role="alert" data-testid="error-banner">
      <p>{message}</p>
      {details.length > 0 ? (
        <ul>
          {details.map((d, i) => (
            <li key={i}>
              {d.path ? <code>{d.path}</code> : null} {d.message}
            </li>
          ))}
        </ul>
      ) : null}
      {onRetry ? (
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      ) : null}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  );
}

/** A labelled form control with its error messages, linked by aria-describedby. */
export function Field({
  label,
  path,
  errors,
  hint,
  children,
}: {
  label: string;
  /** The request path it fills; also its data-field for tests. */
  path: string;
  errors?: readonly string[] | undefined;
  hint?: string;
  children: (props: { id: string; 'aria-invalid': boolean; 'aria-describedby': string | undefined; 'data-testid': string }) => ReactNode;
}) {
  const id = useId();
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const invalid = !!errors && errors.length > 0;
  const describedBy = [invalid ? errorId : null, hint ? hintId : null].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${invalid ? ' field-invalid' : ''}`} data-field={path}>
      <label htmlFor={id}>{label}</label>
      {children({ id, 'aria-invalid': invalid, 'aria-describedby': describedBy, 'data-testid': `field-${path}` })}
      {hint ? (
        <small id={hintId} className="hint">
          {hint}
        </small>
      ) : null}
      {invalid ? (
        <span id={errorId} className="field-error" data-testid={`error-${path}`} role="alert">
          {errors.join('; ')}
        </span>
      ) : null}
    </div>
  );
}

/** Triggers a browser download of text or bytes. */
export function downloadBlob(filename: string, data: BlobPart, type: string): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}
