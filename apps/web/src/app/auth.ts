// The API token: kept in localStorage (the user pastes it once), read on every request.
const KEY = 'hypersweep.token';

export function loadToken(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null; // storage disabled: the user signs in per page load
  }
}

export function saveToken(token: string | null): void {
  try {
    if (token) localStorage.setItem(KEY, token);
    else localStorage.removeItem(KEY);
  } catch {
    // storage disabled: nothing to persist
  }
}
