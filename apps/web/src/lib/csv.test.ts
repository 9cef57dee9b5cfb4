import type { Trial } from '@hypersweep/schemas';
import { describe, expect, it } from 'vitest';
import { csvCell, toCsv, trialsToCsv } from './csv.ts';

function trial(number: number, over: Partial<Trial> = {}): Trial {
  return {
    id: `00000000-0000-4000-8000-00000000000${number}`,
    sweepId: '6f1c1f2e-8a43-4d59-9a41-0c0a6c3b7f10',
    number,
    params: {},
    status: 'completed',
    attempt: 1,
    workerId: 'w1',
    epochsDone: 3,
    bestValue: 0.9,
    finalValue: 0.88,
    lastMetrics: {},
    reason: null,
    error: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    ...over,
  };
}

describe('csv', () => {
  it('quotes commas, quotes and line breaks', () => {
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('say "hi"')).toBe('"say ""hi"""');
    expect(csvCell('two\nlines')).toBe('"two\nlines"');
    expect(csvCell(null)).toBe('');
    expect(csvCell(NaN)).toBe('');
    expect(csvCell(1e-4)).toBe('0.0001');
    expect(csvCell(true)).toBe('true');
  });

  it('defuses spreadsheet formulas but keeps signed numbers', () => {
    expect(csvCell('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvCell('-1.5e-3')).toBe('-1.5e-3');
    expect(csvCell('+cmd')).toBe("'+cmd");
  });

  it('writes header and rows with CRLF', () => {
    expect(toCsv(['a', 'b'], [[1, 'x'], [null, 'y,z']])).toBe('a,b\r\n1,x\r\n,"y,z"\r\n');
  });

  it('exports trials in number order with a column per parameter and metric', () => {
    const csv = trialsToCsv([
      trial(2, { params: { learningRate: 0.01, activation: 'tanh' }, lastMetrics: { val_loss: 0.3 } }),
      trial(1, { params: { learningRate: 0.1, optimizer: 'sgd' }, status: 'failed', error: 'NaN loss, epoch 2', bestValue: null }),
    ]);
    const lines = csv.trimEnd().split('\r\n');
    expect(lines[0]).toBe('number,id,status,epochsDone,bestValue,finalValue,param.activation,param.learningRate,param.optimizer,last.val_loss,attempt,workerId,reason,error,createdAt,startedAt,finishedAt');
    expect(lines[1]!.startsWith('1,00000000-0000-4000-8000-000000000001,failed,3,,0.88,,0.1,sgd,,1,w1,,"NaN loss, epoch 2",')).toBe(true);
    expect(lines[2]!.startsWith('2,00000000-0000-4000-8000-000000000002,completed,3,0.9,0.88,tanh,0.01,,0.3,')).toBe(true);
    expect(lines).toHaveLength(3);
  });
});
