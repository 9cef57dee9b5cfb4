// Text rendering of sweeps and trials: tables, progress bars, the live state of `watch` (folded
// from SSE events) as a frame redrawn in place, and one line per event for logs and pipes.
import { describeSweepControl, type SweepControl } from '@hypersweep/client';
import { maxStepsOf, type Sweep, type SweepEvent, type SweepSummary, type Trial, type TrialStatus } from '@hypersweep/schemas';

/** A sampled hyperparameter value (schemas' `ParamValue`). */
export type ParamValue = string | number | boolean;
type ParamMap = Record<string, ParamValue>;

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/** A metric or objective value: 4 decimals in the usual range, scientific outside it, '-' when unknown. */
export function formatValue(value: number | null | undefined): string {
  if (value === null || value === undefined) return '-';
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e9) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(3);
  return value.toFixed(4);
}

/** A sampled hyperparameter: integers and strings as they are, other numbers with 4 significant digits. */
export function formatParam(value: ParamValue): string {
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(2);
  return String(Number(value.toPrecision(4)));
}

/** "learningRate=1.2e-3 batchSize=64": keys sorted, so rows of one sweep line up. */
export function formatParams(params: ParamMap): string {
  return Object.keys(params)
    .sort()
    .map((key) => `${key}=${formatParam(params[key]!)}`)
    .join(' ');
}

export interface BarStyle {
  readonly full: string;
  readonly empty: string;
}
export const UNICODE_BAR: BarStyle = { full: '█', empty: '░' };
export const ASCII_BAR: BarStyle = { full: '#', empty: '-' };

/** A bar of `width` cells for a fraction in [0, 1] (clamped; NaN is empty). */
export function progressBar(fraction: number, width: number, style: BarStyle = ASCII_BAR): string {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const filled = Math.round(f * width);
  return style.full.repeat(filled) + style.empty.repeat(width - filled);
}

export function percent(fraction: number): string {
  return `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
}

/** Cuts a line to `width` characters (by code points), marking the cut with '…'. */
export function truncate(line: string, width: number): string {
  const chars = Array.from(line);
  if (width <= 0) return '';
  return chars.length <= width ? line : chars.slice(0, width - 1).join('') + '…';
}

// ---------------------------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------------------------

export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right';
}

/** Columns padded to their widest cell, two spaces apart; the last column is never padded. */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string[] {
  const widths = columns.map((c, i) => Math.max(Array.from(c.header).length, ...rows.map((r) => Array.from(r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? '';
        if (i === columns.length - 1) return cell;
        const pad = ' '.repeat(widths[i]! - Array.from(cell).length);
        return c.align === 'right' ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...rows.map(line)];
}

export function formatTime(iso: string | null): string {
  if (iso === null) return '-';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** `list`: one row per sweep. */
export function renderSweepList(sweeps: readonly SweepSummary[]): string[] {
  if (sweeps.length === 0) return ['no sweeps'];
  // The project only when the listing spans several: a one-project user sees no extra column.
  const byProject = new Set(sweeps.map((s) => s.project ?? '-')).size > 1;
  return formatTable(
    [
      { header: 'ID' },
      { header: 'NAME' },
      ...(byProject ? [{ header: 'PROJECT' }] : []),
      { header: 'STATUS' },
      { header: 'TRIALS', align: 'right' },
      { header: 'PROGRESS', align: 'right' },
      { header: 'BEST', align: 'right' },
      { header: 'CREATED' },
    ],
    sweeps.map((s) => [
      s.id,
      truncate(s.name, 40),
      ...(byProject ? [s.project ?? '-'] : []),
      s.status,
      `${s.progress.trialsFinished}/${s.progress.maxTrials}`,
      percent(s.progress.fraction),
      s.best ? `${formatValue(s.best.value)} (#${s.best.number})` : '-',
      formatTime(s.createdAt),
    ]),
  );
}

function epochCell(done: number, max: number, style: BarStyle | undefined): string {
  const text = `${done}/${max}`;
  return style ? `${text} ${progressBar(max > 0 ? done / max : 0, 8, style)}` : text;
}

/** `show`: one row per trial. */
export function renderTrialTable(trials: readonly Trial[], options: { maxEpochs: number; bestTrialId?: string | null; objectiveMetric: string }): string[] {
  if (trials.length === 0) return ['no trials yet'];
  return formatTable(
    [
      { header: '#', align: 'right' },
      { header: 'STATE' },
      { header: 'EPOCH', align: 'right' },
      { header: options.objectiveMetric.toUpperCase(), align: 'right' },
      { header: 'BEST', align: 'right' },
      { header: 'ATTEMPT', align: 'right' },
      { header: 'TRIAL ID' },
      { header: 'PARAMS' },
    ],
    trials.map((t) => [
      `${t.id === options.bestTrialId ? '*' : ''}${t.number}`,
      t.status,
      epochCell(t.epochsDone, options.maxEpochs, undefined),
      formatValue(t.lastMetrics[options.objectiveMetric]),
      formatValue(t.bestValue),
      String(t.attempt),
      t.id,
      formatParams(t.params),
    ]),
  );
}

/** `show` and the end of `watch`: the sweep, its progress, its best trial and test result. */
export function renderSweepDetails(sweep: Sweep | SweepSummary, style: BarStyle = ASCII_BAR): string[] {
  const lines = [
    `sweep ${sweep.name} (${sweep.id})`,
    `status     ${sweep.status}${sweep.error ? ` — ${sweep.error}` : ''}`,
    `objective  ${sweep.objective.mode} ${sweep.objective.metric}`,
    `progress   [${progressBar(sweep.progress.fraction, 30, style)}] ${percent(sweep.progress.fraction)}  ${progressText(sweep.progress)}`,
    `trials     ${countsText(sweep.counts)}`,
    `created    ${formatTime(sweep.createdAt)}${sweep.finishedAt ? `   finished ${formatTime(sweep.finishedAt)}` : ''}`,
  ];
  lines.push(...renderOutcome(sweep));
  return lines;
}

/**
 * The best trial and the test-set result (what `watch` prints when the sweep is over). While the
 * sweep can still run, its best trial is the best so far and the test set is still to be scored.
 */
export function renderOutcome(sweep: Pick<Sweep, 'best' | 'testResult' | 'objective' | 'status'>): string[] {
  const live = sweep.status === 'pending' || sweep.status === 'running' || sweep.status === 'paused';
  const lines: string[] = [];
  if (sweep.best) {
    lines.push(`${live ? 'best so far' : 'best trial'} #${sweep.best.number} (${sweep.best.trialId})  ${sweep.objective.metric} ${formatValue(sweep.best.value)}`);
    if (Object.keys(sweep.best.params).length > 0) lines.push(`  params   ${formatParams(sweep.best.params)}`);
  } else {
    lines.push(live ? 'best trial: none yet' : 'best trial: none');
  }
  if (sweep.testResult) {
    const metrics = Object.entries(sweep.testResult.metrics)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, value]) => `${name} ${formatValue(value)}`)
      .join('  ');
    lines.push(`test result (trial ${sweep.testResult.trialId}): ${metrics || 'no metrics'}`);
  } else {
    lines.push(live ? 'test result: once the sweep completes (its best trial on the test set)' : 'test result: none');
  }
  return lines;
}

function progressText(p: Sweep['progress']): string {
  const epochs = p.maxTotalEpochs === null ? `${p.epochsDone} epochs` : `${p.epochsDone}/${p.maxTotalEpochs} epochs`;
  return `${p.trialsFinished}/${p.maxTrials} trials finished · ${epochs}`;
}

function countsText(c: Sweep['counts']): string {
  return `${c.total} total · ${c.running} running · ${c.queued} queued · ${c.completed} completed · ${c.stopped} stopped · ${c.failed} failed · ${c.cancelled} cancelled`;
}

// ---------------------------------------------------------------------------------------------
// The live state of `watch`
// ---------------------------------------------------------------------------------------------

/** A user's control of the sweep (a sweep.control event) in words: "sweep budget changed by a user: maxTrials 40". */
export function controlText(control: Pick<SweepControl, 'action' | 'budget' | 'trialIds'>): string {
  switch (control.action) {
    case 'paused':
    case 'resumed':
      return `sweep ${control.action} by a user`;
    case 'budget':
      return `sweep ${describeSweepControl(control).replace(/^budget changed/, 'budget changed by a user')}`;
    default:
      return `sweep: ${describeSweepControl(control)} by a user`;
  }
}

export interface TrialRow {
  trialId: string;
  number: number;
  status: TrialStatus;
  epoch: number;
  /** The latest value of the objective metric. */
  objective: number | null;
  bestValue: number | null;
  attempt: number;
  params: ParamMap;
  note: string | null;
}

export interface WatchState {
  readonly sweepId: string;
  readonly name: string;
  readonly objective: Sweep['objective'];
  readonly maxEpochs: number;
  status: Sweep['status'];
  counts: Sweep['counts'];
  progress: Sweep['progress'];
  best: Sweep['best'];
  /** By trial id. */
  readonly trials: Map<string, TrialRow>;
  lastEventId: number;
  /** The latest control seen on the stream, in words, with its time. */
  lastControl: { readonly at: string; readonly text: string } | null;
}

/** The state `watch` starts from: the sweep and its trials as the REST API returned them. */
export function initialWatchState(sweep: Sweep, trials: readonly Trial[]): WatchState {
  const rows = new Map<string, TrialRow>();
  for (const t of trials) {
    rows.set(t.id, {
      trialId: t.id,
      number: t.number,
      status: t.status,
      epoch: t.epochsDone,
      objective: t.lastMetrics[sweep.objective.metric] ?? null,
      bestValue: t.bestValue,
      attempt: t.attempt,
      params: t.params,
      note: t.error ?? t.reason,
    });
  }
  return {
    sweepId: sweep.id,
    name: sweep.name,
    objective: sweep.objective,
    maxEpochs: maxStepsOf(sweep.spec),
    status: sweep.status,
    counts: sweep.counts,
    progress: sweep.progress,
    best: sweep.best,
    trials: rows,
    lastEventId: 0,
    lastControl: null,
  };
}

function rowFor(state: WatchState, ref: { trialId: string; number: number }): TrialRow {
  let row = state.trials.get(ref.trialId);
  if (!row) {
    row = { trialId: ref.trialId, number: ref.number, status: 'queued', epoch: 0, objective: null, bestValue: null, attempt: 0, params: {}, note: null };
    state.trials.set(ref.trialId, row);
  }
  return row;
}

/** Folds one event into the state (in place: a sweep of thousands of trials is not copied per event). */
export function applyEvent(state: WatchState, event: SweepEvent): void {
  state.lastEventId = Math.max(state.lastEventId, event.id);
  switch (event.type) {
    case 'sweep.updated':
      state.status = event.data.status;
      state.counts = event.data.counts;
      state.progress = event.data.progress;
      state.best = event.data.best;
      return;
    case 'sweep.control':
      state.lastControl = { at: event.at, text: describeSweepControl(event.data) };
      return;
    case 'trial.created': {
      const row = rowFor(state, event.data);
      row.params = event.data.params;
      return;
    }
    case 'trial.started': {
      const row = rowFor(state, event.data);
      row.status = 'running';
      row.attempt = event.data.attempt;
      row.epoch = event.data.resumedFromEpoch;
      row.note = null;
      return;
    }
    case 'trial.queued': {
      // Released (pause, shutdown, takeover) or retried: its epochs stay.
      const row = rowFor(state, event.data);
      row.status = 'queued';
      row.attempt = event.data.attempt;
      row.epoch = Math.max(row.epoch, event.data.epochsDone);
      return;
    }
    case 'trial.epoch': {
      const row = rowFor(state, event.data);
      row.status = 'running';
      row.epoch = Math.max(row.epoch, event.data.epoch);
      const value = event.data.metrics[state.objective.metric];
      if (value !== undefined) {
        row.objective = value;
        if (value !== null) row.bestValue = row.bestValue === null ? value : better(state.objective.mode, value, row.bestValue);
      }
      return;
    }
    case 'trial.completed': {
      const row = rowFor(state, event.data);
      row.status = 'completed';
      row.epoch = event.data.epochsDone;
      row.bestValue = event.data.bestValue;
      if (event.data.finalValue !== null) row.objective = event.data.finalValue;
      return;
    }
    case 'trial.stopped': {
      const row = rowFor(state, event.data);
      row.status = 'stopped';
      row.epoch = event.data.epochsDone;
      row.note = event.data.byUser ? `stopped by user: ${event.data.reason}` : event.data.reason;
      return;
    }
    case 'trial.failed': {
      const row = rowFor(state, event.data);
      row.status = 'failed';
      row.attempt = event.data.attempt;
      row.note = event.data.error;
      return;
    }
  }
}

function better(mode: 'minimize' | 'maximize', a: number, b: number): number {
  return mode === 'minimize' ? Math.min(a, b) : Math.max(a, b);
}

const STATUS_ORDER: Record<TrialStatus, number> = { running: 0, queued: 1, completed: 2, stopped: 2, failed: 2, cancelled: 2 };

export interface FrameOptions {
  /** Terminal width: every line is cut to it, so the frame's height is its number of lines. */
  readonly columns: number;
  /** Terminal height: trial rows beyond it are summarised in one line. */
  readonly rows: number;
  readonly bar?: BarStyle;
}

/** The live view: a header with the sweep's progress bar and one row per trial (running ones first when they do not all fit). */
export function renderWatchFrame(state: WatchState, options: FrameOptions): string[] {
  const bar = options.bar ?? UNICODE_BAR;
  const p = state.progress;
  const header = [
    `sweep ${state.name}  ${state.status}  ${state.objective.mode} ${state.objective.metric}`,
    `[${progressBar(p.fraction, 30, bar)}] ${percent(p.fraction)}  ${progressText(p)}`,
    `trials: ${countsText(state.counts)}`,
    state.best
      ? `best: #${state.best.number} ${state.objective.metric} ${formatValue(state.best.value)}  ${formatParams(state.best.params)}`
      : 'best: -',
    ...(state.status === 'paused' ? [`paused: no trial starts until it is resumed (hypersweep resume ${state.sweepId})`] : []),
    ...(state.lastControl ? [`last control: ${state.lastControl.text} (${formatTime(state.lastControl.at)})`] : []),
    '',
  ];
  const all = [...state.trials.values()];
  // Lines left for the table: its header, the rows, maybe a "more" line; keep one spare line for the cursor.
  const room = Math.max(1, options.rows - header.length - 3);
  let shown = all;
  let hidden = 0;
  if (all.length > room) {
    shown = [...all].sort((a, b) => STATUS_ORDER[a.status] - STATUS_ORDER[b.status] || b.number - a.number).slice(0, room);
    hidden = all.length - shown.length;
  }
  shown = [...shown].sort((a, b) => a.number - b.number);
  const bestId = state.best?.trialId;
  const table = formatTable(
    [{ header: '#', align: 'right' }, { header: 'STATE' }, { header: 'EPOCH' }, { header: state.objective.metric.toUpperCase(), align: 'right' }, { header: 'PARAMS' }],
    shown.map((r) => [
      `${r.trialId === bestId ? '*' : ''}${r.number}`,
      r.status,
      epochCell(r.epoch, state.maxEpochs, bar),
      formatValue(r.objective),
      formatParams(r.params) + (r.note && (r.status === 'failed' || r.status === 'stopped') ? `  (${r.note})` : ''),
    ]),
  );
  const lines = all.length === 0 ? [...header, 'no trials yet'] : [...header, ...table];
  if (hidden > 0) lines.push(`… ${hidden} more trials (finished ones hidden to fit the terminal)`);
  return lines.map((l) => truncate(l, options.columns));
}

/** One line per event, for pipes, logs and `--plain`. */
export function formatEventLine(event: SweepEvent, state: Pick<WatchState, 'maxEpochs' | 'objective'>): string {
  const prefix = `[${event.id}] ${formatTime(event.at)}`;
  const metric = state.objective.metric;
  switch (event.type) {
    case 'sweep.updated': {
      const d = event.data;
      const best = d.best ? `  best #${d.best.number} ${metric} ${formatValue(d.best.value)}` : '';
      return `${prefix} sweep ${d.status}  ${d.progress.trialsFinished}/${d.progress.maxTrials} trials finished (${percent(d.progress.fraction)})  running ${d.counts.running} queued ${d.counts.queued}${best}`;
    }
    case 'trial.created':
      return `${prefix} trial #${event.data.number} created  ${formatParams(event.data.params)}`;
    case 'trial.started': {
      const resumed = event.data.resumedFromEpoch > 0 ? `, resumed after epoch ${event.data.resumedFromEpoch}` : '';
      return `${prefix} trial #${event.data.number} started on ${event.data.workerId} (attempt ${event.data.attempt}${resumed})`;
    }
    case 'trial.queued':
      return `${prefix} trial #${event.data.number} queued again, ${event.data.epochsDone} epochs kept`;
    case 'trial.epoch': {
      // The objective first, then the other losses and accuracies; timings and throughput stay in `export`.
      const metrics = Object.entries(event.data.metrics)
        .filter(([name]) => name === metric || /^(train|val)_(loss|accuracy)$/.test(name))
        .sort(([a], [b]) => (a === metric ? -1 : b === metric ? 1 : a.localeCompare(b)));
      return `${prefix} trial #${event.data.number} epoch ${event.data.epoch}/${state.maxEpochs}  ${metrics.map(([k, v]) => `${k}=${formatValue(v)}`).join(' ')}`;
    }
    case 'trial.completed':
      return `${prefix} trial #${event.data.number} completed after ${event.data.epochsDone} epochs  best ${formatValue(event.data.bestValue)}  final ${formatValue(event.data.finalValue)}`;
    case 'trial.stopped':
      return `${prefix} trial #${event.data.number} stopped after ${event.data.epochsDone} epochs (${event.data.byUser ? 'by user' : 'by the scheduler'}): ${event.data.reason}`;
    case 'trial.failed':
      return `${prefix} trial #${event.data.number} failed (attempt ${event.data.attempt}): ${event.data.error}`;
    case 'sweep.control':
      return `${prefix} ${controlText(event.data)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Drawing in place
// ---------------------------------------------------------------------------------------------

export interface TextSink {
  write(text: string): unknown;
}

const ESC = '\x1b[';

/**
 * Redraws a frame in place on a terminal: moves the cursor up over the previous frame and clears
 * to the end of the screen. Redraws are coalesced to at most one per `intervalMs`, so a burst of
 * events costs one repaint.
 */
export class LiveFrame {
  private previousHeight = 0;
  private lastDraw = -Infinity;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private pending: (() => string[]) | undefined;

  constructor(
    private readonly out: TextSink,
    private readonly intervalMs = 100,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.out.write(`${ESC}?25l`); // hide the cursor while we draw
  }

  /** Schedules a redraw of `frame()` (called when the redraw happens, so it sees the latest state). */
  update(frame: () => string[]): void {
    this.pending = frame;
    const wait = this.lastDraw + this.intervalMs - this.now();
    if (wait <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), wait);
  }

  /** Draws what is pending now. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const frame = this.pending;
    if (!frame) return;
    this.pending = undefined;
    const lines = frame();
    const up = this.previousHeight > 0 ? `${ESC}${this.previousHeight}A` : '';
    this.out.write(`\r${up}${ESC}0J${lines.join('\n')}\n`);
    this.previousHeight = lines.length;
    this.lastDraw = this.now();
  }

  /** Draws what is pending and gives the cursor back; the last frame stays on screen. */
  close(): void {
    this.flush();
    this.out.write(`${ESC}?25h`);
  }
}
