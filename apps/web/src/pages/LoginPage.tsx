// Sign in with an API token (created with `hypersweep token create` or POST /api/v1/tokens).
// The token is checked against the API before it is kept.
import { useState } from 'react';
import { ApiError, HypersweepClient } from '@hypersweep/client';
import { useApp } from '../app/context.tsx';

export function LoginPage({ next }: { next: string | null }) {
  const { signIn, navigate } = useApp();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError('Enter an API token.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // A throwaway client: a 401 here is a wrong token, not a session that expired.
      const probe = new HypersweepClient({ baseUrl: '', token: t });
      await probe.listSweeps({ limit: 1 });
      signIn(t);
      navigate(next ?? '/', { replace: true });
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'The API did not accept this token.' : err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="login" id="main">
      <form onSubmit={submit} aria-labelledby="login-title" data-testid="login-form">
        <h1 id="login-title">Hypersweep</h1>
        <p>Sign in with an API token.</p>
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="current-password"
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-invalid={!!error}
          aria-describedby={error ? 'token-error' : undefined}
          data-testid="login-token"
          autoFocus
        />
        {error ? (
          <p id="token-error" className="field-error" role="alert" data-testid="login-error">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy} data-testid="login-submit">
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p className="hint">Create one with <code>hypersweep token create NAME</code>.</p>
      </form>
    </main>
  );
}
