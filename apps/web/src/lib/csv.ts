// CSV export of a sweep's trials, built in the browser from the trial list (RFC 4180 quoting).
// Cells that a spreadsheet would run as a formula (=, +, -, @ first) are prefixed with a quote,
// since parameter values and error texts come from users and workers.
import type { Trial } from '@hypersweep/schemas';

export type CsvCell = string | number | boolean | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;

/** One cell: numbers as they print, text quoted when it holds a comma, quote or line break. */
export function csvCell(value: CsvCell): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  let s = value;
  if (FORMULA_START.test(s) && !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: readonly string[], rows: readonly (readonly CsvCell[])[]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}

/** Every parameter and last-metric name that occurs in the trials, sorted. */
export function columnsOf(trials: readonly Pick<Trial, 'params' | 'lastMetrics'>[]): { params: string[]; metrics: string[] } {
  const params = new Set<string>();
  const metrics = new Set<string>();
  for (const t of trials) {
    for (const k of Object.keys(t.params)) params.add(k);
    for (const k of Object.keys(t.lastMetrics)) metrics.add(k);
  }
  return { params: [...params].sort(), metrics: [...metrics].sort() };
}

/** The trials as CSV: identity, state, objective values, one column per parameter and per last metric. */
export function trialsToCsv(trials: readonly Trial[]): string {
  const { params, metrics } = columnsOf(trials);
  const header = [
    'number', 'id', 'status', 'epochsDone', 'bestValue', 'finalValue',
    ...params.map((p) => `param.${p}`),
    ...metrics.map((m) => `last.${m}`),
    'attempt', 'workerId', 'reason', 'error', 'createdAt', 'startedAt', 'finishedAt',
  ];
  const sorted = [...trials].sort((a, b) => a.number - b.number);
  const rows = sorted.map((t) => [
    t.number, t.id, t.status, t.epochsDone, t.bestValue, t.finalValue,
    ...params.map((p) => t.params[p]),
    ...metrics.map((m) => t.lastMetrics[m]),
    t.attempt, t.workerId, t.reason, t.error, t.createdAt, t.startedAt, t.finishedAt,
  ]);
  return toCsv(header, rows);
}
