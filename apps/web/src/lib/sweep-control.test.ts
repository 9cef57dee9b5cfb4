import { describe, expect, it } from 'vitest';
import { budgetChange, budgetForm, configurationTemplate, errorsByPath, mergeControls, parseConfigurations, sweepActions, withBudget } from './sweep-control.ts';

const BUDGET = { maxTrials: 12, maxConcurrentTrials: 2, maxTotalEpochs: null };

describe('sweepActions', () => {
  it('allows pause while pending or running, resume while paused, delete once ended', () => {
    expect(sweepActions('running')).toEqual({ pause: true, resume: false, cancel: true, edit: true, delete: false });
    expect(sweepActions('pending')).toEqual({ pause: true, resume: false, cancel: true, edit: true, delete: false });
    expect(sweepActions('paused')).toEqual({ pause: false, resume: true, cancel: true, edit: true, delete: false });
    for (const s of ['completed', 'failed', 'cancelled'] as const) expect(sweepActions(s)).toEqual({ pause: false, resume: false, cancel: false, edit: false, delete: true });
  });
});

describe('budgetChange', () => {
  it('sends only the fields that change; an emptied epoch limit is null', () => {
    expect(budgetForm(BUDGET)).toEqual({ maxTrials: '12', maxConcurrentTrials: '2', maxTotalEpochs: '' });
    expect(budgetChange(BUDGET, { maxTrials: ' 40 ', maxConcurrentTrials: '2', maxTotalEpochs: '' })).toEqual({ ok: true, value: { maxTrials: 40 } });
    expect(budgetChange(BUDGET, { maxTrials: '12', maxConcurrentTrials: '4', maxTotalEpochs: '300' })).toEqual({ ok: true, value: { maxConcurrentTrials: 4, maxTotalEpochs: 300 } });
    expect(budgetChange({ ...BUDGET, maxTotalEpochs: 300 }, { maxTrials: '12', maxConcurrentTrials: '2', maxTotalEpochs: '' })).toEqual({ ok: true, value: { maxTotalEpochs: null } });
  });

  it('names each field that is not a whole number ≥ 1, and says when nothing changes', () => {
    const bad = budgetChange(BUDGET, { maxTrials: '0', maxConcurrentTrials: '2.5', maxTotalEpochs: 'lots' });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect([...bad.errors.keys()]).toEqual(['budget.maxTrials', 'budget.maxConcurrentTrials', 'budget.maxTotalEpochs']);
    expect(bad.errors.get('budget.maxTotalEpochs')).toEqual(['a whole number ≥ 1, or empty for no limit']);
    expect(budgetChange(BUDGET, { maxTrials: '', maxConcurrentTrials: '2', maxTotalEpochs: '' })).toMatchObject({ ok: false });
    const same = budgetChange(BUDGET, budgetForm(BUDGET));
    expect(same.ok ? null : same.errors.get('budget')).toEqual(['nothing to change: edit a field first']);
  });
});

describe('parseConfigurations', () => {
  it('takes one object or an array of them', () => {
    expect(parseConfigurations('{"learningRate": 0.01, "activation": "relu"}')).toEqual({ ok: true, value: [{ learningRate: 0.01, activation: 'relu' }] });
    expect(parseConfigurations('[{"lr": 0.1}, {"lr": 0.2, "deep": true}]')).toEqual({ ok: true, value: [{ lr: 0.1 }, { lr: 0.2, deep: true }] });
  });

  it('names problems as the API does: params[i].<name>, or the whole text for a syntax error', () => {
    const bad = parseConfigurations('[{"lr": 0.1}, 5, {"lr": {"x": 1}}, {}]');
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect([...bad.errors.keys()]).toEqual(['params[1]', 'params[2].lr', 'params[3]']);
    expect(bad.errors.get('params[3]')).toEqual(['names no parameter']);
    const syntax = parseConfigurations('{"lr": 0.1,');
    expect(syntax.ok ? [] : [...syntax.errors.keys()]).toEqual(['']);
    expect(syntax.ok ? '' : syntax.errors.get('')![0]).toMatch(/^not valid JSON: /);
    expect(parseConfigurations('  ')).toMatchObject({ ok: false });
    expect(parseConfigurations('[]')).toMatchObject({ ok: false });
    const many = parseConfigurations(JSON.stringify(Array.from({ length: 101 }, () => ({ lr: 0.1 }))));
    expect(many.ok ? [] : many.errors.get('params')).toEqual(['at most 100 configurations at once, got 101']);
  });
});

describe('errorsByPath and configurationTemplate', () => {
  it('groups API details by path, keeping their order', () => {
    const errors = errorsByPath([{ path: 'params[0].lr', message: 'too high' }, { path: 'params[1].x', message: 'unknown' }, { path: 'params[0].lr', message: 'not a step' }]);
    expect([...errors]).toEqual([['params[0].lr', ['too high', 'not a step']], ['params[1].x', ['unknown']]]);
  });

  it('starts from the best trial’s parameters, or a placeholder per parameter', () => {
    expect(JSON.parse(configurationTemplate(['lr', 'units'], { lr: 0.01, units: 64 }))).toEqual([{ lr: 0.01, units: 64 }]);
    expect(JSON.parse(configurationTemplate(['lr', 'units'], null))).toEqual([{ lr: null, units: null }]);
  });
});

describe('withBudget and mergeControls', () => {
  it('applies the fields a budget event names, null lifting the epoch limit', () => {
    const sweep = { id: 's', spec: { name: 'x', search: { sampler: 'tpe', budget: { ...BUDGET, maxTotalEpochs: 300 as number | null } } } };
    const changed = withBudget(sweep, { maxTrials: 40, maxTotalEpochs: null });
    expect(changed.spec.search.budget).toEqual({ maxTrials: 40, maxConcurrentTrials: 2, maxTotalEpochs: null });
    expect(changed.spec.search.sampler).toBe('tpe');
    expect(sweep.spec.search.budget.maxTrials).toBe(12);
  });

  it('merges controls by id, oldest first, a repeated id once', () => {
    const c = (id: number, action = 'paused') => ({ id, action });
    expect(mergeControls([c(3), c(7)], [c(5), c(7, 'resumed'), c(1)])).toEqual([c(1), c(3), c(5), c(7, 'resumed')]);
    const known = [c(1)];
    expect(mergeControls(known, [])).toBe(known);
  });
});
