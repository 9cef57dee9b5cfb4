// What a trainable may write on stdout (docs/trainables.md): its own trial's steps, in order, with
// named finite metrics and the objective — never a trial id, and nothing but the three fields.
import { describe, expect, it } from 'vitest';
import { parseReport } from '../src/run-trainable.ts';

const ok = (metrics: object, extra: object = {}) => JSON.stringify({ step: 3, metrics, ...extra });

describe('trainable report lines', () => {
  it('takes a step in order with its metrics and checkpoint flag', () => {
    expect(parseReport(ok({ loss: 0.5, acc: 0.9 }, { checkpoint: true }), 3, 10, 'loss')).toEqual({ step: 3, metrics: { loss: 0.5, acc: 0.9 }, checkpoint: true });
    expect(parseReport(ok({ loss: 0.5 }), 3, 3, 'loss')).toEqual({ step: 3, metrics: { loss: 0.5 }, checkpoint: false });
  });

  it.each([
    ['another trial', ok({ loss: 0.5 }, { trialId: '00000000-0000-4000-8000-000000000000' }), /unknown field "trialId"/],
    ['a sweep id', ok({ loss: 0.5 }, { sweepId: 'x' }), /unknown field "sweepId"/],
    ['a step out of order', JSON.stringify({ step: 5, metrics: { loss: 1 } }), /step 5 out of order \(expected 3\)/],
    ['a step past maxSteps', JSON.stringify({ step: 3, metrics: { loss: 1 } }), /past maxSteps \(2\)/],
    ['a fractional step', JSON.stringify({ step: 3.5, metrics: { loss: 1 } }), /step must be an integer/],
    ['a NaN as JSON null', ok({ loss: null }), /metrics\.loss/],
    ['a bad metric name', ok({ loss: 1, 'Val-Loss': 2 }), /metrics\.Val-Loss/],
    ['no objective', ok({ acc: 0.9 }), /lack the objective loss/],
    ['no metrics', ok({}), /at least one metric/],
    ['65 metrics', ok(Object.fromEntries([['loss', 1], ...Array.from({ length: 64 }, (_, i) => [`m${i}`, i])])), /at most 64/],
    ['a checkpoint that is not a boolean', ok({ loss: 1 }, { checkpoint: 'yes' }), /checkpoint must be true or false/],
    ['an array', '[1, 2]', /not a JSON object/],
    ['text', 'epoch 3 done', /not JSON/],
    ['a line too long', ok({ loss: 1 }, { pad: 'x'.repeat(70_000) }), /longer than/],
  ])('refuses %s', (_what, line, message) => {
    const maxSteps = _what === 'a step past maxSteps' ? 2 : 10;
    const got = parseReport(line, 3, maxSteps, 'loss');
    expect(typeof got).toBe('string');
    expect(got).toMatch(message);
  });
});
