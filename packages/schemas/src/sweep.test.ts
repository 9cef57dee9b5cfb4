import { describe, expect, it } from 'vitest';
import { CreateSweepRequest, samplerConfigFor, schedulerConfigFor } from './sweep.ts';
import { resolveTrialConfig } from './bindings.ts';
import { zodIssuesToDetails, validationError } from './common.ts';
import { mnistTpeAshaSweep } from './fixtures.ts';

type Mutable = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function details(input: unknown) {
  const r = CreateSweepRequest.safeParse(input);
  if (r.success) throw new Error(`accepted: ${JSON.stringify(input).slice(0, 300)}`);
  return zodIssuesToDetails(r.error);
}

function mutated(edit: (req: Mutable) => void): Mutable {
  const req = structuredClone(mnistTpeAshaSweep()) as Mutable;
  edit(req);
  return req;
}

describe('CreateSweepRequest: valid requests', () => {
  it('parses the acceptance-1 sweep (MNIST, TPE + ASHA, conditional momentum) and applies defaults', () => {
    const r = CreateSweepRequest.parse(mnistTpeAshaSweep());
    expect(r.training.optimizer).toMatchObject({ type: 'adam', learningRate: 1e-3, beta1: 0.9 });
    expect(r.training.schedule).toEqual({ type: 'constant', warmupEpochs: 0 });
    expect(r.search.budget).toEqual({ maxTrials: 12, maxConcurrentTrials: 4, maxTotalEpochs: null, failedCountTowardsBudget: true, maxFailedTrials: null });
    expect(r.model.layers[3]).toMatchObject({ type: 'dense', activation: 'linear', useBias: true });
    expect(r.objective).toEqual({ metric: 'val_accuracy', mode: 'maximize' });
  });

  it('derives the sampler and scheduler configs of @hypersweep/search from the sweep', () => {
    const r = CreateSweepRequest.parse(mnistTpeAshaSweep());
    expect(samplerConfigFor(r)).toEqual({ type: 'tpe', nStartupTrials: 4, seed: 42, direction: 'maximize' });
    expect(schedulerConfigFor(r)).toEqual({ type: 'asha', reductionFactor: 3, minResource: 1, direction: 'maximize', maxResource: 9 });
  });

  it('parses a minimal spirals sweep with random search and defaults everywhere', () => {
    const r = CreateSweepRequest.parse({
      name: 'spirals',
      dataset: { type: 'spirals' },
      model: { inputShape: [2], layers: [{ type: 'dense', units: 16, activation: 'tanh' }, { type: 'dense', units: 2 }], loss: 'softmax_cross_entropy' },
      training: { epochs: 5 },
      search: { space: { learningRate: { type: 'loguniform', low: 1e-3, high: 1 } }, budget: { maxTrials: 3 } },
      objective: { metric: 'val_loss' },
    });
    expect(r.search.sampler).toEqual({ type: 'random' });
    expect(r.search.scheduler).toEqual({ type: 'fifo' });
    expect(r.search.seed).toBe(0);
    expect(r.objective.mode).toBe('minimize');
    expect(r.training).toMatchObject({ batchSize: 32, optimizer: { type: 'adam' } });
    // No microbatches given: a trial takes nn's default for its batch size, the same on every worker.
    expect(r.training.microbatches).toBeUndefined();
    expect(resolveTrialConfig(r, {}).microbatches).toBe(2);
    expect(resolveTrialConfig(r, { batchSize: 128 }).microbatches).toBe(4);
  });

  it('parses a grid sweep on an uploaded CSV dataset with a regression model', () => {
    const r = CreateSweepRequest.parse({
      name: 'grid',
      dataset: { type: 'csv', id: '6f1c1f2e-8a43-4d59-9a41-0c0a6c3b7f10' },
      model: { inputShape: [8], layers: [{ type: 'dense', units: 32, activation: 'relu' }, { type: 'dense', units: 1 }], loss: 'mse' },
      training: { epochs: 3, optimizer: { type: 'sgd', learningRate: 0.05, momentum: 0.9 } },
      search: {
        space: { hidden: { type: 'int', low: 16, high: 64, step: 16 }, weightDecay: { type: 'categorical', choices: [0, 1e-4] }, momentum: { type: 'fixed', value: 0.5 } },
        sampler: { type: 'grid', shuffle: true },
        budget: { maxTrials: 8, maxConcurrentTrials: 4, maxTotalEpochs: 24 },
      },
      objective: { metric: 'val_loss', mode: 'minimize' },
    });
    expect(r.dataset).toEqual({ type: 'csv', id: '6f1c1f2e-8a43-4d59-9a41-0c0a6c3b7f10' });
  });

  it.each([
    "'; DROP TABLE sweeps; --",
    '<script>alert(1)</script>',
    '${jndi:ldap://evil/a}',
    '../../etc/passwd',
    '{{7*7}} $(rm -rf /) `id`',
    'Ünïcödé ✓ 🚀 名前',
  ])('accepts the name %j as plain text, unchanged', (name) => {
    expect(CreateSweepRequest.parse({ ...mnistTpeAshaSweep(), name }).name).toBe(name);
  });

  it('builds an API error body naming the first problem', () => {
    const r = CreateSweepRequest.safeParse(mutated((q) => (q.training.epochs = 0)));
    expect(r.success).toBe(false);
    const body = validationError(r.error!);
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toContain('training.epochs');
    expect(body.error.details[0]).toEqual({ path: 'training.epochs', message: 'must be ≥ 1' });
  });
});

const UUID = '6f1c1f2e-8a43-4d59-9a41-0c0a6c3b7f10';

/** [what, the edit, the path a detail must name]. */
const MALFORMED_EDITS: [string, (q: Mutable) => void, string][] = [
  ['missing name', (q) => delete q.name, 'name'],
  ['empty name', (q) => (q.name = ''), 'name'],
  ['name over 200 characters', (q) => (q.name = 'x'.repeat(201)), 'name'],
  ['name with a NUL byte', (q) => (q.name = 'a\u0000b'), 'name'],
  ['name with an escape sequence', (q) => (q.name = '\u001b[2Jwiped'), 'name'],
  ['name of the wrong type', (q) => (q.name = 42), 'name'],
  ['description over 2000 characters', (q) => (q.description = 'd'.repeat(2001)), 'description'],
  ['unknown top-level key', (q) => (q.admin = true), 'admin'],
  ['missing dataset', (q) => delete q.dataset, 'dataset'],
  ['unknown dataset type', (q) => (q.dataset = { type: 'cifar10' }), 'dataset.type'],
  ['dataset directory from the user', (q) => (q.dataset.dataDir = '/etc'), 'dataset.dataDir'],
  ['huge limitTrain', (q) => (q.dataset.limitTrain = 1e12), 'dataset.limitTrain'],
  ['validation fraction and count together', (q) => Object.assign(q.dataset, { validationFraction: 0.1, validationCount: 100 }), 'dataset.validationCount'],
  ['csv dataset id not a UUID', (q) => (q.dataset = { type: 'csv', id: "1 OR 1=1" }), 'dataset.id'],
  ['csv dataset with options', (q) => (q.dataset = { type: 'csv', id: UUID, limitTrain: 10 }), 'dataset.limitTrain'],
  ['missing model', (q) => delete q.model, 'model'],
  ['unknown layer type', (q) => (q.model.layers[1] = { type: 'conv3d', filters: 8 }), 'model.layers[1].type'],
  ['zero units', (q) => (q.model.layers[1].units = 0), 'model.layers[1].units'],
  ['huge units', (q) => (q.model.layers[1].units = 1e9), 'model.layers[1].units'],
  ['NaN units', (q) => (q.model.layers[1].units = NaN), 'model.layers[1].units'],
  ['units as a string', (q) => (q.model.layers[1].units = '64'), 'model.layers[1].units'],
  ['unknown key in a layer', (q) => (q.model.layers[1].kernel = 'eval(1)'), 'model.layers[1].kernel'],
  ['dense on a 2-D input without flatten', (q) => q.model.layers.shift(), 'model.layers[0]'],
  ['softmax before a cross-entropy loss', (q) => (q.model.layers[3].activation = 'softmax'), 'model.layers[3].activation'],
  ['dropout rate 1', (q) => (q.model.layers[2].rate = 1), 'model.layers[2].rate'],
  ['no layers', (q) => (q.model.layers = []), 'model.layers'],
  ['unknown loss', (q) => (q.model.loss = 'hinge'), 'model.loss'],
  ['missing epochs', (q) => delete q.training.epochs, 'training.epochs'],
  ['zero epochs', (q) => (q.training.epochs = 0), 'training.epochs'],
  ['too many epochs', (q) => (q.training.epochs = 1001), 'training.epochs'],
  ['fractional epochs', (q) => (q.training.epochs = 2.5), 'training.epochs'],
  ['infinite epochs', (q) => (q.training.epochs = Infinity), 'training.epochs'],
  ['negative batch size', (q) => (q.training.batchSize = -1), 'training.batchSize'],
  ['more microbatches than examples per batch', (q) => Object.assign(q.training, { batchSize: 4, microbatches: 8 }), 'training.microbatches'],
  ['unknown optimizer', (q) => (q.training.optimizer = { type: 'lamb' }), 'training.optimizer.type'],
  ['negative learning rate', (q) => (q.training.optimizer.learningRate = -0.1), 'training.optimizer.learningRate'],
  ['momentum on adam', (q) => (q.training.optimizer.momentum = 0.9), 'training.optimizer.momentum'],
  ['missing space', (q) => delete q.search.space, 'search.space'],
  ['empty space', (q) => (q.search.space = {}), 'search.space'],
  ['space as an array', (q) => (q.search.space = [1, 2]), 'search.space'],
  ['log scale with low 0', (q) => (q.search.space.learningRate.low = 0), 'search.space.learningRate.low'],
  ['low above high', (q) => (q.search.space.dropout = { type: 'uniform', low: 0.4, high: 0.1 }), 'search.space.dropout.low'],
  ['unknown parameter kind', (q) => (q.search.space.dropout = { type: 'beta', a: 1 }), 'search.space.dropout.type'],
  ['parameter that binds to nothing', (q) => (q.search.space.lr = { type: 'uniform', low: 0, high: 1 }), 'search.space.lr'],
  ['momentum reachable with adam', (q) => {
    q.search.space.optimizer = { type: 'categorical', choices: ['sgd', 'adam'] };
    q.search.space.momentum = { type: 'uniform', low: 0, high: 0.9 };
  }, 'search.space.momentum'],
  ['float-valued batch size', (q) => (q.search.space.batchSize = { type: 'uniform', low: 16, high: 128 }), 'search.space.batchSize.type'],
  // Accepted once: the sampler then drew 43.5 for a batch size, and 1e-13 for a learning rate.
  ['quniform batch sizes with a fractional step', (q) => (q.search.space.batchSize = { type: 'quniform', low: 16, high: 64, q: 0.5 }), 'search.space.batchSize.q'],
  ['quniform batch sizes from a fractional low', (q) => (q.search.space.batchSize = { type: 'quniform', low: 16.5, high: 64.5, q: 8 }), 'search.space.batchSize.low'],
  ['learning rates below what an optimizer takes', (q) => (q.search.space.learningRate.low = 1e-15), 'search.space.learningRate.low'],
  ['batch size below the microbatches', (q) => ((q.training.microbatches = 2), (q.search.space.batchSize = { type: 'categorical', choices: [1, 64] })), 'search.space.batchSize.choices[0]'],
  ['dropout above 1', (q) => (q.search.space.dropout.high = 1.5), 'search.space.dropout.high'],
  ['unknown activation choice', (q) => (q.search.space.activation.choices[1] = 'swish'), 'search.space.activation.choices[1]'],
  ['unknown optimizer choice', (q) => (q.search.space.optimizer.choices[1] = 'lion'), 'search.space.optimizer.choices[1]'],
  ['dropout searched without a dropout layer', (q) => q.model.layers.splice(2, 1), 'search.space.dropout'],
  ['unknown sampler', (q) => (q.search.sampler = { type: 'bayes' }), 'search.sampler.type'],
  ['zero EI candidates', (q) => (q.search.sampler.nEiCandidates = 0), 'search.sampler.nEiCandidates'],
  ['sampler direction (it comes from the objective)', (q) => (q.search.sampler.direction = 'minimize'), 'search.sampler.direction'],
  ['sampler seed as an injection string', (q) => (q.search.sampler.seed = "1; DROP TABLE trials"), 'search.sampler.seed'],
  ['grid larger than its cell limit', (q) => (q.search.sampler = { type: 'grid', pointsPerParam: 10, maxCells: 50 }), 'search.sampler.maxCells'],
  ['unknown scheduler', (q) => (q.search.scheduler = { type: 'pbt' }), 'search.scheduler.type'],
  ['reduction factor 1', (q) => (q.search.scheduler.reductionFactor = 1), 'search.scheduler.reductionFactor'],
  ['max resource beyond the epochs', (q) => (q.search.scheduler.maxResource = 50), 'search.scheduler.maxResource'],
  ['min resource at the epochs (no rung)', (q) => (q.search.scheduler.minResource = 9), 'search.scheduler.maxResource'],
  // Each of these once ran the API out of memory while the request was validated.
  ['hyperband with a minResource of 1e-30', (q) => (q.search.scheduler = { type: 'hyperband', minResource: 1e-30 }), 'search.scheduler.minResource'],
  ['asha with η barely above 1', (q) => (q.search.scheduler.reductionFactor = 1.000001), 'search.scheduler.minResource'],
  ['hyperband with 2³¹ − 1 epochs', (q) => ((q.training.epochs = 2147483647), (q.search.scheduler = { type: 'hyperband' })), 'training.epochs'],
  ['missing budget', (q) => delete q.search.budget, 'search.budget'],
  ['negative max trials', (q) => (q.search.budget.maxTrials = -1), 'search.budget.maxTrials'],
  ['huge max trials', (q) => (q.search.budget.maxTrials = 1e15), 'search.budget.maxTrials'],
  ['zero concurrency', (q) => (q.search.budget.maxConcurrentTrials = 0), 'search.budget.maxConcurrentTrials'],
  ['concurrency above max trials', (q) => (q.search.budget.maxConcurrentTrials = 13), 'search.budget.maxConcurrentTrials'],
  ['epoch budget below one trial', (q) => (q.search.budget.maxTotalEpochs = 5), 'search.budget.maxTotalEpochs'],
  ['negative seed', (q) => (q.search.seed = -1), 'search.seed'],
  ['seed beyond 32 bits', (q) => (q.search.seed = 2 ** 40), 'search.seed'],
  ['unknown objective metric', (q) => (q.objective.metric = 'f1'), 'objective.metric'],
  ['minimizing accuracy', (q) => (q.objective.mode = 'minimize'), 'objective.mode'],
  ['unknown objective mode', (q) => (q.objective.mode = 'max'), 'objective.mode'],
  ['accuracy of a regression model', (q) => {
    q.model.loss = 'mse';
    q.model.layers[3].units = 1;
  }, 'objective.metric'],
];

MALFORMED_EDITS.push(
  ['early stopping without a validation split', (q) => ((q.training.earlyStopping = { patience: 2 }), (q.dataset.validationFraction = 0)), 'training.earlyStopping.monitor'],
  ['early stopping with patience 0', (q) => (q.training.earlyStopping = { patience: 0 }), 'training.earlyStopping.patience'],
  ['early stopping on an unknown metric', (q) => (q.training.earlyStopping = { patience: 2, monitor: 'loss' }), 'training.earlyStopping.monitor'],
  ['a learning rate that is 0 in float32', (q) => (q.training.optimizer.learningRate = 1e-50), 'training.optimizer.learningRate'],
  ['a learning rate of 1e9', (q) => (q.training.optimizer.learningRate = 1e9), 'training.optimizer.learningRate'],
  ['an epsilon of 0', (q) => (q.training.optimizer.epsilon = 0), 'training.optimizer.epsilon'],
  ['a weight decay that overflows', (q) => (q.training.optimizer.weightDecay = 1e39), 'training.optimizer.weightDecay'],
  ['an unknown MNIST scaling', (q) => (q.dataset.scaling = 'minmax'), 'dataset.scaling'],
  ['a validation objective without a validation split', (q) => (q.dataset.validationFraction = 0), 'objective.metric'],
  ['x/255 scaling of a CSV dataset', (q) => (q.dataset = { type: 'csv', id: '6f1c3a2e-9b4d-4e8f-a1b2-c3d4e5f60718', scaling: 'unit' }), 'dataset.scaling'],
);
const MALFORMED = MALFORMED_EDITS.map(([what, edit, path]) => ({ what, edit, path }));

describe('CreateSweepRequest: early stopping and scaling', () => {
  it('takes early stopping with Keras defaults and passes it to every trial', () => {
    const q = mutated((r) => {
      r.training.earlyStopping = { patience: 3, monitor: 'val_accuracy' };
      r.dataset.scaling = 'unit';
    });
    const r = CreateSweepRequest.parse(q);
    expect(r.training.earlyStopping).toEqual({ patience: 3, monitor: 'val_accuracy', minDelta: 0, restoreBestWeights: true });
    expect(r.dataset).toMatchObject({ scaling: 'unit' });
    expect(resolveTrialConfig(r, { learningRate: 0.01, batchSize: 64, dropout: 0.2, activation: 'relu', optimizer: 'adam' }).earlyStopping).toEqual(r.training.earlyStopping);
  });
});

describe('CreateSweepRequest: malformed requests', () => {
  it('has a table of at least 40 cases', () => {
    expect(MALFORMED.length).toBeGreaterThanOrEqual(40);
  });

  it.each(MALFORMED)('rejects $what, naming $path', ({ edit, path }) => {
    const found = details(mutated(edit));
    expect(found.map((d) => d.path)).toContain(path);
    for (const d of found) expect(d.message.length).toBeGreaterThan(0);
  });

  it.each([
    ['null', null],
    ['an array', []],
    ['a string', 'sweep'],
    ['a number', 1],
  ])('rejects a body that is %s at the root', (_what, body) => {
    expect(details(body)[0]!.path).toBe('');
  });

  it('rejects a __proto__ key from JSON.parse as an unknown field (no prototype pollution)', () => {
    const body = JSON.parse(JSON.stringify(mnistTpeAshaSweep()).replace(/^\{/, '{"__proto__":{"polluted":1},'));
    expect(details(body).map((d) => d.path)).toContain('__proto__');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('says NaN and Infinity are not finite numbers', () => {
    const d = details(mutated((q) => (q.search.budget.maxTrials = NaN)));
    expect(d).toContainEqual({ path: 'search.budget.maxTrials', message: 'must be a finite number, got NaN' });
    const e = details(mutated((q) => (q.model.layers[1].units = -Infinity)));
    expect(e.find((x) => x.path === 'model.layers[1].units')!.message).toMatch(/finite number.*-?Infinity/);
  });

  it('reports every problem, not only the first', () => {
    const d = details(mutated((q) => {
      q.name = '';
      q.training.epochs = 0;
      q.search.budget.maxTrials = 0;
    }));
    expect(d.map((x) => x.path)).toEqual(expect.arrayContaining(['name', 'training.epochs', 'search.budget.maxTrials']));
  });
});
