import { CreateSweepRequest, zodIssuesToDetails } from '@hypersweep/schemas';
import { mnistTpeAshaSweep } from '../../../../packages/schemas/src/fixtures.ts';
import { describe, expect, it } from 'vitest';
import {
  TEMPLATES, activeTunes, emptyForm, fieldForPath, formToRequest, modelOf, placeErrors, requestToForm, toggleTune, tuneOf, type DatasetShape, type SweepForm, type TuneTarget,
} from './sweep-form.ts';

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
    expect(requestToForm({ ...mnistTpeAshaSweep(), training: { epochs: 3, schedule: { type: 'step', stepEpochs: 2 } } })).toEqual({ reason: 'training.schedule (step) is not in the form' });
    const repeated = mnistTpeAshaSweep();
    (repeated.model.layers as unknown[]).splice(1, 0, { $repeat: { times: 2, block: [{ type: 'dense', units: 8 }] } });
    expect(requestToForm(repeated)).toEqual({ reason: '$repeat at model.layers[1] is not in the form' });
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

describe('tune this', () => {
  /** MNIST, two hidden layers with dropout, a cosine schedule: every field the form can tune. */
  function richForm(): SweepForm {
    return { ...TEMPLATES.find((t) => t.id === 'mnist-mlp')!.form(), hidden: '128, 64', schedule: 'cosine', warmupEpochs: '1' };
  }
  const TARGETS: TuneTarget[] = ['units:1', 'units:2', 'activation:1', 'dropout:2', 'learningRate', 'batchSize', 'epochs', 'optimizer', 'warmupEpochs', 'scaling'];
  const tuneAll = (form: SweepForm) => TARGETS.reduce((f, t) => toggleTune(f, t), form);

  it('turns each field into a reference with a range around its value, and the request is valid', () => {
    const form = tuneAll(richForm());
    const req = formToRequest(form) as unknown as Record<string, Record<string, unknown>>;
    expect(validate(req)).toEqual([]);
    const layers = req['model']!['layers'] as Record<string, unknown>[];
    // flatten, dense, dropout, dense, dropout, output
    expect(layers[1]).toEqual({ type: 'dense', units: { $param: 'units_1' }, activation: { $param: 'activation_1' } });
    expect(layers[2]).toEqual({ type: 'dropout', rate: 0.2 });
    expect(layers[3]).toEqual({ type: 'dense', units: { $param: 'units_2' }, activation: 'relu' });
    expect(layers[4]).toEqual({ type: 'dropout', rate: { $param: 'dropout_2' } });
    expect(req['training']).toMatchObject({
      epochs: { $param: 'epochs' }, batchSize: { $param: 'batchSize' },
      optimizer: { type: { $param: 'optimizer' }, learningRate: { $param: 'learningRate' } },
      schedule: { type: 'cosine', warmupEpochs: { $param: 'warmupEpochs' } },
    });
    expect(req['dataset']!['scaling']).toEqual({ $param: 'scaling' });
    const space = req['search']!['space'] as Record<string, unknown>;
    expect(space['units_1']).toEqual({ type: 'intlog', low: 32, high: 512 });
    expect(space['units_2']).toEqual({ type: 'intlog', low: 16, high: 256 });
    expect(space['dropout_2']).toEqual({ type: 'uniform', low: 0, high: 0.5 });
    expect(space['activation_1']).toEqual({ type: 'categorical', choices: ['relu', 'tanh', 'gelu'] });
    expect(space['epochs']).toEqual({ type: 'int', low: 5, high: 20 });
    // The template's shorthand rows are taken over by the tuned fields: their ranges move with them.
    expect(space['learningRate']).toEqual({ type: 'loguniform', low: 0.0001, high: 0.1 });
    expect(space['batchSize']).toEqual({ type: 'categorical', choices: [32, 64, 128] });
    expect(form.space.learningRate.enabled).toBe(false);
    expect(form.space.dropout.enabled).toBe(false);
    expect(Object.keys(space).sort()).toEqual(['activation_1', 'batchSize', 'dropout_2', 'epochs', 'learningRate', 'optimizer', 'scaling', 'units_1', 'units_2', 'warmupEpochs']);
    const parsed = CreateSweepRequest.parse(req);
    expect(parsed.template?.model).toEqual(req['model']);
  });

  it('round-trips through the editor: as written, and as stored (with template)', () => {
    const req = formToRequest(tuneAll(richForm()));
    const back = requestToForm(req);
    if (!('form' in back)) throw new Error(back.reason);
    expect(formToRequest(back.form)).toEqual(req);
    // A stored request holds one corner in its sections and the references in its template.
    const stored = CreateSweepRequest.parse(req);
    expect(stored.model).not.toEqual(req.model);
    const fromStored = requestToForm({ ...req, dataset: stored.dataset, model: stored.model, training: stored.training, template: stored.template });
    if (!('form' in fromStored)) throw new Error(fromStored.reason);
    expect(formToRequest(fromStored.form)).toEqual(req);
  });

  it('clicking again removes the reference and the parameter', () => {
    const form = richForm();
    form.space.learningRate.enabled = false;
    const once = toggleTune(form, 'units:2');
    expect(tuneOf(once, 'units:2')?.name).toBe('units_2');
    expect(toggleTune(once, 'units:2')).toEqual(form);
    expect(formToRequest(toggleTune(once, 'units:2'))).toEqual(formToRequest(form));
  });

  it('drops a tuned layer that no longer exists, and suggests names that are free', () => {
    const form = toggleTune(toggleTune(richForm(), 'units:2'), 'dropout:1');
    const fewer = { ...form, hidden: '128' };
    expect(activeTunes(fewer).map((t) => t.target)).toEqual(['dropout:1']);
    expect(validate(formToRequest(fewer))).toEqual([]);
    const clash = { ...emptyForm(), tuned: [{ target: 'epochs' as const, name: 'units_1', type: 'int' as const, low: '1', high: '3', choices: '' }] };
    expect(tuneOf(toggleTune(clash, 'units:1'), 'units:1')?.name).toBe('units_1_2');
  });

  it('places errors of a tuned parameter at its definition, and of its reference at the field', () => {
    let form = toggleTune(richForm(), 'units:1');
    form = { ...form, tuned: form.tuned.map((t) => ({ ...t, low: '600' })) };
    const tunedNames = form.tuned.map((t) => t.name);
    const placed = placeErrors(validate(formToRequest(form)), modelOf(form).layerFields, tunedNames);
    expect(placed.fields['search.space.units_1']?.join(' ')).toMatch(/low|high/);
    expect(fieldForPath('search.space.units_1.high', [], tunedNames)).toBe('search.space.units_1');
    expect(fieldForPath('training.schedule.warmupEpochs')).toBe('training.schedule.warmupEpochs');
  });

  it('writes the objective mode only when chosen', () => {
    const form = { ...emptyForm(), name: 'x' };
    expect(formToRequest(form).objective).toEqual({ metric: 'val_accuracy' });
    expect(formToRequest({ ...form, objective: 'val_top3_accuracy', objectiveMode: 'maximize' }).objective).toEqual({ metric: 'val_top3_accuracy', mode: 'maximize' });
    expect(validate(formToRequest({ ...form, objective: 'val_top3_accuracy' }))).toEqual([]);
  });
});
