import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DbError } from './errors.ts';
import type { SweepStatus, TrialStatus } from './generated/prisma/enums.ts';
import { assertTransition, canTransition, legalSources, setSweepStatus, setTrialStatus } from './states.ts';
import { createSweep } from './sweeps.ts';
import { createMigratedTestDatabase, type MigratedTestDatabase } from './testing.ts';
import { createTrial } from './trials.ts';

const sweepStatuses: SweepStatus[] = ['pending', 'running', 'completed', 'cancelled', 'failed'];
const trialStatuses: TrialStatus[] = ['queued', 'running', 'completed', 'stopped', 'failed', 'cancelled'];

const legalSweep = new Set(['pending>running', 'pending>cancelled', 'running>completed', 'running>cancelled', 'running>failed']);
const legalTrial = new Set([
  'queued>running',
  'queued>cancelled',
  'running>completed',
  'running>stopped',
  'running>failed',
  'running>cancelled',
  'running>queued',
]);

describe('state machine tables', () => {
  it('allows exactly the legal sweep transitions (all 25 pairs)', () => {
    for (const from of sweepStatuses) {
      for (const to of sweepStatuses) {
        expect(canTransition('sweep', from, to), `${from} → ${to}`).toBe(legalSweep.has(`${from}>${to}`));
      }
    }
  });

  it('allows exactly the legal trial transitions (all 36 pairs), failed → queued only as a retry', () => {
    for (const from of trialStatuses) {
      for (const to of trialStatuses) {
        expect(canTransition('trial', from, to), `${from} → ${to}`).toBe(legalTrial.has(`${from}>${to}`));
        const withRetry = legalTrial.has(`${from}>${to}`) || (from === 'failed' && to === 'queued');
        expect(canTransition('trial', from, to, { retry: true }), `${from} → ${to} (retry)`).toBe(withRetry);
      }
    }
  });

  it.each([
    ['sweep', 'completed', 'running'],
    ['sweep', 'pending', 'completed'],
    ['sweep', 'cancelled', 'pending'],
    ['trial', 'completed', 'queued'],
    ['trial', 'queued', 'completed'],
    ['trial', 'failed', 'queued'],
    ['trial', 'stopped', 'running'],
  ] as const)('assertTransition refuses %s %s → %s with illegal_transition naming both', (entity, from, to) => {
    let thrown: unknown;
    try {
      assertTransition(entity, from as never, to as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DbError);
    expect((thrown as DbError).code).toBe('illegal_transition');
    expect((thrown as DbError).message).toContain(`${from} → ${to}`);
  });

  it('lists legal sources', () => {
    expect(legalSources('trial', 'cancelled').sort()).toEqual(['queued', 'running']);
    expect(legalSources('trial', 'queued')).toEqual(['running']);
    expect(legalSources('trial', 'queued', { retry: true }).sort()).toEqual(['failed', 'running']);
    expect(legalSources('sweep', 'running').sort()).toEqual(['paused', 'pending']);
    expect(legalSources('sweep', 'paused').sort()).toEqual(['pending', 'running']);
    expect(legalSources('sweep', 'cancelled').sort()).toEqual(['paused', 'pending', 'running']);
  });
});

describe('status writes', () => {
  let t: MigratedTestDatabase;
  beforeAll(async () => {
    t = await createMigratedTestDatabase();
  });
  afterAll(async () => {
    await t?.close();
  });

  const newSweep = async () =>
    (
      await createSweep(t.db, {
        name: 's',
        spec: {},
        seed: 1,
        objective: { metric: 'val_loss', mode: 'minimize' },
        budget: { maxTrials: 4 },
      })
    ).sweep;

  it('applies a legal sweep transition once and reports the loser with the current row', async () => {
    const sweep = await newSweep();
    const results = await Promise.all([setSweepStatus(t.db, sweep.id, 'running'), setSweepStatus(t.db, sweep.id, 'running')]);
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    expect(results.find((r) => !r.changed)?.row?.status).toBe('running');

    const done = await setSweepStatus(t.db, sweep.id, 'completed');
    expect(done.changed).toBe(true);
    expect(done.row?.finishedAt).toBeInstanceOf(Date);
    // Terminal: nothing leaves it, and the row is untouched.
    const again = await setSweepStatus(t.db, sweep.id, 'cancelled');
    expect(again).toMatchObject({ changed: false, row: { status: 'completed' } });
  });

  it('refuses an explicitly requested illegal source before touching the database', async () => {
    const sweep = await newSweep();
    await expect(setSweepStatus(t.db, sweep.id, 'completed', { from: ['pending'] })).rejects.toMatchObject({ code: 'illegal_transition' });
    await expect(setTrialStatus(t.db, sweep.id, 'queued', { from: ['failed'] })).rejects.toMatchObject({ code: 'illegal_transition' });
  });

  it('reports a missing or malformed id as not changed with no row', async () => {
    expect(await setSweepStatus(t.db, '00000000-0000-4000-8000-000000000000', 'running')).toEqual({ changed: false, row: null });
    expect(await setTrialStatus(t.db, 'not-a-uuid', 'running')).toEqual({ changed: false, row: null });
  });

  it('moves a trial only along legal edges', async () => {
    const sweep = await newSweep();
    const trial = await createTrial(t.db, sweep.id, { params: { lr: 0.1 } });
    expect((await setTrialStatus(t.db, trial.id, 'completed')).changed).toBe(false); // queued → completed
    expect((await setTrialStatus(t.db, trial.id, 'running')).changed).toBe(true);
    expect((await setTrialStatus(t.db, trial.id, 'failed', { data: { error: 'boom' } })).row).toMatchObject({ status: 'failed', error: 'boom' });
    expect((await setTrialStatus(t.db, trial.id, 'queued')).changed).toBe(false); // not without retry
    expect((await setTrialStatus(t.db, trial.id, 'queued', { retry: true })).changed).toBe(true);
  });
});
