import { CreateSweepRequest, zodIssuesToDetails } from '@hypersweep/schemas';
import { mnistTpeAshaSweep } from '../../../../packages/schemas/src/fixtures.ts';
import { describe, expect, it } from 'vitest';
import { TEMPLATES, emptyForm, fieldForPath, formToRequest, modelOf, placeErrors, requestToForm, type DatasetShape } from './sweep-form.ts';

function validate(input: unknown) {
  const r = CreateSweepRequest.safeParse(input);
  return r.success ? [] : zodIssuesToDetails(r.error);
}

describe('templates', () => {
  it.each(TEMPLATES.map((t) => [t.id, t] as const))('%s is a valid sweep', (_id, t) => {
    expect(validate(formToRequest(t.form()))).toEqual([]);
  });

  it('include the MNIST MLP over learning rate × batch size × dropout × activation', () => {
    const req = CreateSweepRequest.parse(formToRequest(TEMPLATES.find((t) => t.id === 'mnist-mlp')!.form()));
    expect(Object.keys(req.search.space).sort()).toEqual(['activation', 'batchSize', 'dropout', 'learningRate']);
    expect(req.model.layers.map((l) => l.type)).toEqual(['flatten', 'dense', 'dropout', 'dense']);
    expect(req.model.inputShape).toEqual([28, 28]);
  });
});

describe('form → request', () => {
  it('reproduces the acceptance-1 fixture sweep', () => {
    const form = { ...TEMPLATES.find((t) => t.id === 'mnist-optimizers')!.form(), name: 'mnist tpe+asha', learningRate: '0.001', batchSize: '64' };
    form.space.batchSize = { enabled: true, choices: '32, 64, 128' };
    form.space.dropout = { enabled: true, low: '0', high: '0.5' };
    form.space.activation = { enabled: true, choices: ['relu', 'tanh', 'gelu'] };
    form.seed = '42';
    const ours = CreateSweepRequest.parse(formToRequest(form));
    const fixture = CreateSweepRequest.parse(mnistTpeAshaSweep());
    expect(ours).toEqual(fixture);
  });

  it('builds a regression model for a CSV dataset without classes', () => {
    const csv: DatasetShape = { id: '6f1c1f2e-8a43-4d59-9a41-0c0a6c3b7f10', kind: 'csv', featureShape: [8], numClasses: null };
    const form = { ...emptyForm(), name: 'csv', dataset: csv.id, objective: 'val_loss' as const };
    const req = formToRequest(form, [csv]);
    expect(req.dataset).toEqual({ type: 'csv', id: csv.id });
    expect(req.model).toEqual({ inputShape: [8], layers: [{ type: 'dense', units: 128, activation: 'relu' }, { type: 'dense', units: 1 }], loss: 'mse' });
    expect(validate(req)).toEqual([]);
  });

  it('leaves bad text in place so validation names the field', () => {
    const form = { ...emptyForm(), name: 'x', epochs: 'ten', maxTrials: '' };
    form.space.learningRate.low = '-1';
    const placed = placeErrors(validate(formToRequest(form)));
    expect(placed.fields['training.epochs']?.[0]).toMatch(/integer|number/);
    expect(placed.fields['search.budget.maxTrials']).toEqual(['is required']);
    expect(placed.fields['search.space.learningRate.low']?.length).toBeGreaterThan(0);
  });
});

describe('request → form', () => {
  it.each(TEMPLATES.map((t) => [t.id, t] as const))('round-trips the %s template', (_id, t) => {
    const form = t.form();
    const back = requestToForm(formToRequest(form));
    expect('form' in back).toBe(true);
    if ('form' in back) expect(formToRequest(back.form)).toEqual(formToRequest(form));
  });

  it('reads the fixture sweep', () => {
    const back = requestToForm(mnistTpeAshaSweep());
    expect('form' in back && back.form.space.optimizer).toEqual({ enabled: true, choices: ['sgd', 'adam'], momentum: { enabled: true, low: '0', high: '0.95' } });
  });

  it('says why a request does not fit the form', () => {
    const req = mnistTpeAshaSweep();
    (req.search.space as Record<string, unknown>)['hidden'] = { type: 'int', low: 16, high: 64 };
    expect(requestToForm(req)).toEqual({ reason: 'search.space.hidden (int) is not in the form' });
    expect(requestToForm({ ...mnistTpeAshaSweep(), training: { epochs: 3, schedule: { type: 'cosine' } } })).toEqual({ reason: 'training.schedule is not in the form' });
    expect(requestToForm(null)).toEqual({ reason: 'the request is not an object' });
  });
});

describe('errors at fields', () => {
  it('maps API paths to the fields that produced them', () => {
    const form = { ...emptyForm(), hidden: '64, 32', dropoutLayer: true };
    const { layerFields } = modelOf(form);
    // flatten, dense, dropout, dense, dropout, output
    expect(layerFields).toEqual(['dataset', 'model.hidden', 'model.dropout', 'model.hidden', 'model.dropout', 'dataset']);
    expect(fieldForPath('model.layers[3].units', layerFields)).toBe('model.hidden');
    expect(fieldForPath('model.layers[1].activation', layerFields)).toBe('model.activation');
    expect(fieldForPath('model.layers[2].rate', layerFields)).toBe('model.dropout');
    expect(fieldForPath('search.space.optimizer.choices[0].params.momentum.high')).toBe('search.space.momentum.high');
    expect(fieldForPath('search.space.batchSize.choices[0]')).toBe('search.space.batchSize');
    expect(fieldForPath('search.budget.maxConcurrentTrials')).toBe('search.budget.maxConcurrentTrials');
    expect(fieldForPath('search.scheduler.maxResource')).toBe('search.scheduler.maxResource');
    expect(fieldForPath('search.space.lr')).toBeUndefined();
    expect(fieldForPath('admin')).toBeUndefined();
  });

  it('keeps details without a field for the summary', () => {
    const placed = placeErrors([
      { path: 'name', message: 'must not be empty' },
      { path: 'admin', message: 'is not a known field' },
      { path: '', message: 'whole body' },
    ]);
    expect(placed.fields).toEqual({ name: ['must not be empty'] });
    expect(placed.general.map((d) => d.path)).toEqual(['admin', '']);
  });
});
