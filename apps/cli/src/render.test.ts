// Rendering: values, bars, tables, the live state folded from events, plain event lines, in-place redraws.
import { describe, expect, it } from 'vitest';
import { SweepEvent } from '@hypersweep/schemas';
import { makeSweep, makeTrial, SWEEP_ID, sweepStory, T0, trialId } from '../test/fixtures.ts';
import {
  applyEvent,
  ASCII_BAR,
  controlText,
  formatEventLine,
  formatParams,
  formatTable,
  formatValue,
  initialWatchState,
  LiveFrame,
  progressBar,
  renderOutcome,
  renderSweepList,
  renderTrialTable,
  renderWatchFrame,
  truncate,
} from './render.ts';

describe('values and bars', () => {
  it('formats objective values and params compactly', () => {
    expect([null, undefined, 0.91234567, 3, 1e-5, 2.5e7 + 0.5, -0.5].map(formatValue)).toEqual(['-', '-', '0.9123', '3', '1.000e-5', '2.500e+7', '-0.5000']);
    expect(formatParams({ learningRate: 0.000123456, batchSize: 64, activation: 'relu', dropout: 0.123456, nesterov: true })).toBe(
      'activation=relu batchSize=64 dropout=0.1235 learningRate=1.23e-4 nesterov=true',
    );
  });

  it('draws bars of the given width, clamping the fraction', () => {
    expect(progressBar(0.5, 10, ASCII_BAR)).toBe('#####-----');
    expect(progressBar(0, 4)).toBe('----');
    expect(progressBar(1.7, 4)).toBe('####');
    expect(progressBar(Number.NaN, 4)).toBe('----');
    expect(progressBar(1 / 3, 6, { full: '█', empty: '░' })).toBe('██░░░░');
  });

  it('truncates by characters with an ellipsis', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
    expect(truncate('ünï✓xyz', 4)).toBe('ünï…');
  });
});

describe('tables', () => {
  it('pads columns to their widest cell and aligns numbers right', () => {
    expect(formatTable([{ header: 'ID' }, { header: 'N', align: 'right' }, { header: 'NOTE' }], [['a', '1', 'x'], ['bbb', '100', '']])).toEqual([
      'ID     N  NOTE',
      'a      1  x',
      'bbb  100',
    ]);
  });

  it('lists sweeps with progress and best value', () => {
    const lines = renderSweepList([makeSweep()]);
    expect(lines[0]).toMatch(/^ID\s+NAME\s+STATUS\s+TRIALS\s+PROGRESS\s+BEST\s+CREATED$/);
    expect(lines[1]).toContain('running');
    expect(lines[1]).toContain('1/3');
    expect(lines[1]).toContain('33%');
    expect(lines[1]).toContain('0.9100 (#0)');
    expect(renderSweepList([])).toEqual(['no sweeps']);
  });

  it('lists trials with epochs, the objective and the best trial starred', () => {
    const lines = renderTrialTable([makeTrial(0), makeTrial(1, { status: 'running', epochsDone: 2, bestValue: null })], {
      maxEpochs: 5,
      bestTrialId: trialId(0),
      objectiveMetric: 'val_accuracy',
    });
    expect(lines[0]).toMatch(/^\s*#\s+STATE\s+EPOCH\s+VAL_ACCURACY\s+BEST/);
    expect(lines[1]).toMatch(/^\*0\s+completed\s+5\/5\s+0\.8900\s+0\.9000\s+1\s+00000000-0000-4000-8000-000000000000\s+activation=tanh learningRate=0\.01$/);
    expect(lines[2]).toMatch(/^ 1\s+running\s+2\/5\s+0\.8910\s+-\s+1/);
  });

  it('prints the outcome: best trial and test result', () => {
    const sweep = makeSweep({ status: 'completed', testResult: { trialId: trialId(0), metrics: { test_loss: 0.2, test_accuracy: 0.93 }, evaluatedAt: '2026-01-02T03:04:05.000Z' } });
    expect(renderOutcome(sweep)).toEqual([
      `best trial #0 (${trialId(0)})  val_accuracy 0.9100`,
      '  params   activation=tanh learningRate=0.01',
      `test result (trial ${trialId(0)}): test_accuracy 0.9300  test_loss 0.2000`,
    ]);
    expect(renderOutcome(makeSweep({ status: 'cancelled', best: null }))).toEqual(['best trial: none', 'test result: none']);
  });

  it('calls the best trial of a sweep still running the best so far, and its test result still to come', () => {
    expect(renderOutcome(makeSweep({ status: 'running' }))).toEqual([
      `best so far #0 (${trialId(0)})  val_accuracy 0.9100`,
      '  params   activation=tanh learningRate=0.01',
      'test result: once the sweep completes (its best trial on the test set)',
    ]);
    expect(renderOutcome(makeSweep({ status: 'paused', best: null }))).toEqual(['best trial: none yet', 'test result: once the sweep completes (its best trial on the test set)']);
  });
});

describe('the live state of watch', () => {
  function finishedState() {
    const state = initialWatchState(makeSweep(), [makeTrial(0), makeTrial(1, { status: 'running', epochsDone: 2, bestValue: 0.8, finalValue: null })]);
    for (const event of sweepStory()) applyEvent(state, event);
    return state;
  }

  it('folds events into trial rows and the sweep header', () => {
    const state = finishedState();
    expect(state.lastEventId).toBe(9);
    expect(state.status).toBe('completed');
    expect(state.best?.number).toBe(2);
    expect(state.trials.get(trialId(1))).toMatchObject({ status: 'stopped', epoch: 3, objective: 0.85, bestValue: 0.85, note: 'asha rung 1' });
    expect(state.trials.get(trialId(2))).toMatchObject({ status: 'completed', epoch: 5, objective: 0.95, bestValue: 0.95, attempt: 1, params: { learningRate: 0.2, activation: 'relu' } });
  });

  it('renders a frame with the sweep bar and per-trial epoch bars, every line cut to the terminal width', () => {
    const frame = renderWatchFrame(finishedState(), { columns: 120, rows: 40, bar: ASCII_BAR });
    expect(frame[0]).toBe('sweep spirals, "quoted"  completed  maximize val_accuracy');
    expect(frame[1]).toBe('[##############################] 100%  3/3 trials finished · 7 epochs');
    expect(frame[3]).toContain('best: #2 val_accuracy 0.9500');
    const rows = frame.slice(6);
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/^ 0\s+completed\s+5\/5 ########\s+0\.8900\s+activation=tanh/);
    expect(rows[1]).toMatch(/^ 1\s+stopped\s+3\/5 #####---\s+0\.8500\s+activation=relu learningRate=0\.02 {2}\(asha rung 1\)$/);
    expect(rows[2]).toMatch(/^\*2\s+completed/);
    const narrow = renderWatchFrame(finishedState(), { columns: 30, rows: 40 });
    expect(narrow.every((l) => Array.from(l).length <= 30)).toBe(true);
  });

  it('keeps running trials and summarises the rest when the terminal is short', () => {
    const trials = Array.from({ length: 30 }, (_, n) => makeTrial(n, n === 3 ? { status: 'running', epochsDone: 1, finishedAt: null } : {}));
    const frame = renderWatchFrame(initialWatchState(makeSweep(), trials), { columns: 200, rows: 15 });
    expect(frame.length).toBeLessThan(15);
    expect(frame.some((l) => /^ +3\s+running/.test(l))).toBe(true);
    expect(frame[frame.length - 1]).toMatch(/^… \d+ more trials/);
  });

  it('writes one plain line per event', () => {
    const state = finishedState();
    const lines = sweepStory().map((e) => formatEventLine(e, state));
    expect(lines).toEqual([
      '[1] 2026-01-02 03:04:05Z trial #2 created  activation=relu learningRate=0.2',
      '[2] 2026-01-02 03:04:05Z trial #2 started on worker-b (attempt 1)',
      '[3] 2026-01-02 03:04:05Z trial #2 epoch 1/5  val_accuracy=0.7000 val_loss=0.6000',
      '[4] 2026-01-02 03:04:05Z trial #2 epoch 2/5  val_accuracy=0.8000 val_loss=0.5000',
      '[5] 2026-01-02 03:04:05Z trial #1 epoch 3/5  val_accuracy=0.8500 val_loss=-',
      '[6] 2026-01-02 03:04:05Z trial #1 stopped after 3 epochs (by the scheduler): asha rung 1',
      '[7] 2026-01-02 03:04:05Z trial #2 epoch 3/5  val_accuracy=0.9500 val_loss=0.2000',
      '[8] 2026-01-02 03:04:05Z trial #2 completed after 5 epochs  best 0.9500  final 0.9500',
      '[9] 2026-01-02 03:04:05Z sweep completed  3/3 trials finished (100%)  running 0 queued 0  best #2 val_accuracy 0.9500',
    ]);
  });
});

describe('plain epoch lines', () => {
  it('show the objective first and leave timings out', () => {
    const noisy = SweepEvent.parse({
      id: 3,
      type: 'trial.epoch',
      sweepId: SWEEP_ID,
      at: T0,
      data: { trialId: trialId(2), number: 2, epoch: 1, metrics: { samples_per_sec: 50312.1, train_loss: 0.72, val_accuracy: 0.625, epoch_seconds: 0.007, val_loss: 0.61, train_accuracy: 0.55 } },
    });
    expect(formatEventLine(noisy, { maxEpochs: 3, objective: { metric: 'val_accuracy', mode: 'maximize' } })).toBe(
      '[3] 2026-01-02 03:04:05Z trial #2 epoch 1/3  val_accuracy=0.6250 train_accuracy=0.5500 train_loss=0.7200 val_loss=0.6100',
    );
  });
});

describe('LiveFrame', () => {
  it('redraws in place: cursor up over the previous frame, clear, draw; coalesces bursts; restores the cursor', () => {
    const written: string[] = [];
    let now = 0;
    const live = new LiveFrame({ write: (t: string) => written.push(t) }, 100, () => now);
    live.update(() => ['a', 'b']);
    now = 10;
    let calls = 0;
    live.update(() => (calls++, ['x']));
    live.update(() => (calls++, ['c', 'd', 'e']));
    expect(calls).toBe(0); // within the interval: pending, not drawn
    live.flush();
    expect(calls).toBe(1); // only the latest frame is drawn
    live.close();
    expect(written).toEqual(['\x1b[?25l', '\r\x1b[0Ja\nb\n', '\r\x1b[2A\x1b[0Jc\nd\ne\n', '\x1b[?25h']);
  });
});

describe('controls of a sweep', () => {
  const control = (id: number, data: unknown) => SweepEvent.parse({ id, type: 'sweep.control', sweepId: SWEEP_ID, at: T0, data });

  it('puts each control in one line, and keeps the latest for the live frame', () => {
    expect(controlText({ action: 'paused' })).toBe('sweep paused by a user');
    expect(controlText({ action: 'resumed' })).toBe('sweep resumed by a user');
    expect(controlText({ action: 'budget', budget: { maxConcurrentTrials: 4 } })).toBe('sweep budget changed by a user: maxConcurrentTrials 4');
    expect(controlText({ action: 'enqueued', trialIds: [trialId(5), trialId(6)] })).toBe('sweep: 2 trials enqueued by a user');
    const state = initialWatchState(makeSweep(), [makeTrial(0)]);
    const enqueued = control(10, { action: 'enqueued', trialIds: [trialId(5)] });
    expect(formatEventLine(enqueued, state)).toBe('[10] 2026-01-02 03:04:05Z sweep: 1 trial enqueued by a user');
    applyEvent(state, enqueued);
    expect(state.lastControl).toEqual({ at: T0, text: '1 trial enqueued' });
    expect(renderWatchFrame(state, { columns: 200, rows: 40 })).toContain('last control: 1 trial enqueued (2026-01-02 03:04:05Z)');
  });

  it('marks a row queued on its trial.queued event (released by a pause), not on the sweep counts', () => {
    const state = initialWatchState(makeSweep(), [makeTrial(0), makeTrial(1, { status: 'running', epochsDone: 2, finishedAt: null })]);
    const updated = (id: number, running: number, status = 'paused') =>
      SweepEvent.parse({ id, type: 'sweep.updated', sweepId: SWEEP_ID, at: T0, data: { status, counts: { queued: 1 - running, running, completed: 1, stopped: 0, failed: 0, cancelled: 0, total: 2 }, progress: { trialsFinished: 1, maxTrials: 3, epochsDone: 7, maxTotalEpochs: null, fraction: 1 / 3 }, best: null } });
    applyEvent(state, updated(1, 1, 'running'));
    expect(state.trials.get(trialId(1))!.status).toBe('running');
    applyEvent(state, updated(2, 0));
    expect([...state.trials.values()].map((r) => r.status)).toEqual(['completed', 'running']);
    const queued = SweepEvent.parse({ id: 3, type: 'trial.queued', sweepId: SWEEP_ID, at: T0, data: { trialId: trialId(1), number: 1, attempt: 1, epochsDone: 2 } });
    expect(formatEventLine(queued, state)).toBe('[3] 2026-01-02 03:04:05Z trial #1 queued again, 2 epochs kept');
    applyEvent(state, queued);
    expect([...state.trials.values()].map((r) => [r.status, r.epoch])).toEqual([['completed', 5], ['queued', 2]]);
    expect(renderWatchFrame(state, { columns: 200, rows: 40 })).toContain(`paused: no trial starts until it is resumed (hypersweep resume ${SWEEP_ID})`);
  });
});
