// Unit tests of FIFO and of createScheduler over stored configs.
import { describe, expect, it } from 'vitest';
import { SearchError } from '../types.ts';
import { createFifoScheduler, createScheduler, type SchedulerConfig } from './index.ts';
import { trial } from './trials.fixture.ts';

describe('FIFO', () => {
  it('always continues, whatever the others did', () => {
    const s = createFifoScheduler();
    const peers = [trial(1, [0.1, 0.1, 0.1]), trial(2, [0.1, 0.1, 0.1])];
    for (const n of [1, 2, 3]) expect(s.onReport(trial(0, Array.from({ length: n }, () => 99)), peers)).toBe('continue');
    expect(() => createFifoScheduler({ eta: 3 } as never)).toThrow(SearchError);
  });
});

describe('createScheduler', () => {
  it('builds each scheduler from its stored config', () => {
    expect(createScheduler({ type: 'fifo' }).name).toBe('fifo');
    expect(createScheduler({ type: 'median', direction: 'maximize' }).name).toBe('median');
    const asha = createScheduler({ type: 'asha', direction: 'minimize', maxResource: 9 });
    expect(asha.name === 'asha' && asha.milestones).toEqual([1, 3]);
    const hb = createScheduler(JSON.parse('{"type":"hyperband","direction":"minimize","maxResource":9}') as SchedulerConfig);
    expect(hb.name === 'hyperband' && hb.brackets.length).toBe(3);
  });

  it('rejects unknown types and bad options with a path', () => {
    expect(() => createScheduler({ type: 'pbt' } as unknown as SchedulerConfig)).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG', path: 'type' }) as SearchError);
    expect(() => createScheduler({ type: 'asha', direction: 'minimize', maxResource: 9, reductionFactor: 0.5 })).toThrow(
      expect.objectContaining({ path: 'reductionFactor' }) as SearchError,
    );
  });
});
