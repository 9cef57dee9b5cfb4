// CSV (RFC 4180) writing, and the flat table of a sweep's trials: what the CLI's `export` writes
// as CSV or JSON and what the dashboard downloads. Text that a spreadsheet would run as a formula
// is defused, since parameter values and error texts come from users and workers.
import type { Trial } from '@hypersweep/schemas';

export type CsvValue = string | number | boolean | null | undefined;

/** What a spreadsheet runs as a formula: text starting with =, +, -, @, tab or CR (OWASP's CSV injection list). */
const FORMULA_START = /^[=+\-@\t\r]/;
const NUMBER_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * One field: quoted when it holds a comma, a double quote, CR or LF (or starts/ends with a space,
 * which some readers trim), with inner quotes doubled. null and undefined are empty fields. Text
 * that would start a formula gets a leading quote (signed numbers written as text stay as they are).
 */
export function csvField(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'number' ? numberText(value) : String(value);
  if (typeof value === 'string' && FORMULA_START.test(text) && !NUMBER_TEXT.test(text)) text = `'${text}`;
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Full precision, no exponent surprises for readers: JSON's number text. */
function numberText(n: number): string {
  return Number.isFinite(n) ? String(n) : '';
}

/** A whole document: a header record, then one record per row, CRLF after each (RFC 4180 §2). */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
  const record = (fields: readonly CsvValue[]) => fields.map(csvField).join(',') + '\r\n';
  return record(header) + rows.map(record).join('');
}

/** The columns every trial row has, in order; `param.<name>` and `metric.<name>` columns follow. */
export const TRIAL_BASE_COLUMNS = ['number', 'trialId', 'status', 'epochsDone', 'bestValue', 'finalValue', 'attempt', 'workerId', 'reason', 'error', 'createdAt', 'startedAt', 'finishedAt'] as const;

export interface TrialTable {
  readonly columns: string[];
  /** One object per trial, with every column present (null where a trial has no such param or metric). */
  readonly records: Record<string, CsvValue>[];
}

/**
 * Trials flattened into one table: the base columns, then every hyperparameter seen in any trial
 * as `param.<name>` (conditional parameters are null where they were not drawn), then the latest
 * value of every metric as `metric.<name>`. Rows by trial number.
 */
export function trialTable(trials: readonly Trial[]): TrialTable {
  const paramNames = new Set<string>();
  const metricNames = new Set<string>();
  for (const t of trials) {
    for (const k of Object.keys(t.params)) paramNames.add(k);
    for (const k of Object.keys(t.lastMetrics)) metricNames.add(k);
  }
  const params = [...paramNames].sort();
  const metrics = [...metricNames].sort();
  const columns = [...TRIAL_BASE_COLUMNS, ...params.map((p) => `param.${p}`), ...metrics.map((m) => `metric.${m}`)];
  const records = [...trials]
    .sort((a, b) => a.number - b.number)
    .map((t) => {
      const record: Record<string, CsvValue> = {
        number: t.number,
        trialId: t.id,
        status: t.status,
        epochsDone: t.epochsDone,
        bestValue: t.bestValue,
        finalValue: t.finalValue,
        attempt: t.attempt,
        workerId: t.workerId,
        reason: t.reason,
        error: t.error,
        createdAt: t.createdAt,
        startedAt: t.startedAt,
        finishedAt: t.finishedAt,
      };
      for (const p of params) record[`param.${p}`] = t.params[p] ?? null;
      for (const m of metrics) record[`metric.${m}`] = t.lastMetrics[m] ?? null;
      return record;
    });
  return { columns, records };
}

export function trialTableCsv(table: TrialTable): string {
  return toCsv(
    table.columns,
    table.records.map((r) => table.columns.map((c) => r[c])),
  );
}
