// The project of the last sweep or upload submitted from this browser (localStorage), so the next
// form starts on it while the token may still submit there.
const KEY = 'hypersweep.project';

export function loadRememberedProject(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null; // storage disabled: nothing remembered
  }
}

export function rememberProject(project: string): void {
  try {
    localStorage.setItem(KEY, project);
  } catch {
    // storage disabled: the next form preselects as if nothing were remembered
  }
}
