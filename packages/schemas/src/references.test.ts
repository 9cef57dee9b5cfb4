// Parameter references: a templated sweep validates at every corner of its space, resolves per
// trial, round-trips through storage, and every malformed one is refused naming the path.
import { parseSpace, validateParams, createSampler, type Params } from '@hypersweep/search';
import { describe, expect, it } from 'vitest';
import { formatPath } from '@hypersweep/nn';
import { resolveTrialConfig } from './bindings.ts';
import { cornersOf } from './corners.ts';
import { checkTrainable, type DatasetFacts } from './trainable.ts';
import { templatedMnistSweep as templated } from './fixtures.ts';
import { CreateSweepRequest, maxEpochsOf, samplerConfigFor, schedulerConfigFor } from './sweep.ts';

const width = { type: 'intlog', low: 16, high: 256 };
const rate = { type: 'uniform', low: 0, high: 0.5 };

type Json = Record<string, unknown>;
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const at = (o: unknown, ...path: (string | number)[]): Json => path.reduce<unknown>((x, k) => (x as Json)[k as string], o) as Json;

function refused(body: unknown): { path: string; message: string }[] {
  const r = CreateSweepRequest.safeParse(body);
  if (r.success) return [];
  return r.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }));
}

describe('a templated sweep', () => {
  it('parses, keeps its template, and round-trips through storage unchanged', () => {
    const parsed = CreateSweepRequest.parse(templated());
    expect(Object.keys(parsed.template ?? {}).sort()).toEqual(['dataset', 'model', 'training']);
    // The plain sections are the base corner: depth 1, every value at its low end / first choice.
    expect(parsed.model.layers.map((l) => l.type)).toEqual(['flatten', 'dense', 'dropout', 'dense']);
    expect(parsed.dataset).toMatchObject({ type: 'mnist', scaling: 'standardize' });
    const stored = JSON.parse(JSON.stringify(parsed)) as unknown;
    expect(CreateSweepRequest.parse(stored)).toEqual(parsed);
  });

  it('resolves each drawn configuration to the spec its parameters say, for every sampler draw', () => {
    const request = CreateSweepRequest.parse(templated());
    const space = parseSpace(request.search.space);
    const sampler = createSampler(space, samplerConfigFor(request));
    for (let n = 0; n < 25; n++) {
      const p = sampler.ask([], n)!.params as Params & { depth: number };
      validateParams(space, p);
      const config = resolveTrialConfig(request, p);
      const dense = config.model.layers.filter((l) => l.type === 'dense');
      const dropout = config.model.layers.filter((l) => l.type === 'dropout');
      expect(dense).toHaveLength(p.depth + 1);
      for (let l = 1; l <= p.depth; l++) {
        expect(dense[l - 1]).toMatchObject({ units: p[`units_${l}`] });
        expect(dropout[l - 1]).toMatchObject({ rate: p[`dropout_${l}`] });
      }
      expect(config.optimizer).toMatchObject({ type: 'adam', learningRate: p['lr'], beta2: p['beta2'] });
      expect(config.schedule).toMatchObject({ type: 'cosine', warmupEpochs: p['warmup'] });
      expect(config.dataset).toMatchObject({ scaling: p['scaling'] });
    }
  });

  it('checks every branch combination and each end of every range', () => {
    const corners = cornersOf(parseSpace(at(templated(), 'search', 'space')))!;
    const depths = new Set(corners.map((c) => c.params['depth']));
    expect([...depths].sort()).toEqual([1, 2, 3]);
    expect(corners.some((c) => c.params['depth'] === 3 && c.params['units_3'] === 256)).toBe(true);
    expect(corners.some((c) => c.params['lr'] === 1e-2)).toBe(true);
  });

  it('keeps the shorthand names working next to references', () => {
    const body = templated();
    at(body, 'search', 'space')['batchSize'] = { type: 'categorical', choices: [32, 64] };
    const request = CreateSweepRequest.parse(body);
    const config = resolveTrialConfig(request, { lr: 1e-3, scaling: 'unit', beta2: 0.99, warmup: 1, units_1: 32, dropout_1: 0.1, depth: 1, batchSize: 32 });
    expect(config.batchSize).toBe(32);
    expect(config.optimizer).toMatchObject({ learningRate: 1e-3, beta2: 0.99 });
  });

  it('tuned epochs: ASHA and Hyperband run to the largest number of epochs the space can draw', () => {
    const body = templated();
    at(body, 'training')['epochs'] = { $param: 'epochs' };
    at(body, 'search', 'space')['epochs'] = { type: 'int', low: 2, high: 6 };
    const request = CreateSweepRequest.parse(body);
    expect(maxEpochsOf(request)).toBe(6);
    expect(schedulerConfigFor(request)).toMatchObject({ type: 'asha', maxResource: 6 });
  });

  it('a plain request (no references) is unchanged and has no template', () => {
    const body = templated();
    body['dataset'] = { type: 'mnist', limitTrain: 1000, limitTest: 200 };
    body['model'] = { inputShape: [28, 28], loss: 'softmax_cross_entropy', layers: [{ type: 'flatten' }, { type: 'dense', units: 32, activation: 'relu' }, { type: 'dropout', rate: 0.1 }, { type: 'dense', units: 10 }] };
    body['training'] = { epochs: 2, optimizer: { type: 'adam' }, schedule: { type: 'constant' } };
    body['search'] = { space: { learningRate: { type: 'loguniform', low: 1e-4, high: 1e-2 }, hidden: width }, budget: { maxTrials: 2 } };
    const parsed = CreateSweepRequest.parse(body);
    expect(parsed.template).toBeUndefined();
  });
});

/** A malformed templated spec, the path its error must name, and (optionally) words of the message. */
type Case = [string, (b: Json) => void, string, RegExp?];

const cases: Case[] = [
  // References that do not resolve.
  ['unknown parameter in model', (b) => (at(b, 'model', 'layers', 2)['units'] = { $param: 'nope' }), 'model.layers[2].units', /does not define/],
  ['unknown parameter in training', (b) => (at(b, 'training', 'optimizer')['epsilon'] = { $param: 'eps' }), 'training.optimizer.epsilon', /does not define/],
  ['unknown parameter in dataset', (b) => (at(b, 'dataset')['seed'] = { $param: 'seed' }), 'dataset.seed', /does not define/],
  ['misspelt name', (b) => (at(b, 'training', 'optimizer')['learningRate'] = { $param: 'LR' }), 'training.optimizer.learningRate', /does not define/],
  ['per-repetition name the space lacks', (b) => (at(b, 'model', 'layers', 1, '$repeat', 'block', 1)['rate'] = { $param: 'drop_{i}' }), 'model.layers[1].$repeat.block[1].rate', /drop_1/],
  ['repeat count names an unknown parameter', (b) => (at(b, 'model', 'layers', 1, '$repeat')['times'] = { $param: 'layers' }), 'model.layers[1].$repeat.times', /does not define/],
  ['a layer exists where its parameter does not', (b) => (at(b, 'search', 'space', 'depth', 'choices', 1)['params'] = {}), 'model.layers[1].$repeat.block[0].units', /not drawn when depth = 2/],
  ['a parameter exists only in a sibling branch', (b) => delete at(b, 'search', 'space', 'depth', 'choices', 2, 'params')['units_3'], 'model.layers[1].$repeat.block[0].units', /units_3/],
  // Parameters never used.
  ['an extra parameter', (b) => (at(b, 'search', 'space')['momentum2'] = rate), 'search.space.momentum2', /never used/],
  ['an extra conditional parameter', (b) => (at(b, 'search', 'space', 'depth', 'choices', 1, 'params')['act_2'] = { type: 'categorical', choices: ['relu', 'tanh'] }), 'search.space.depth.choices[1].params.act_2', /never used/],
  ['a parameter drawn where its layer does not exist', (b) => (at(b, 'search', 'space', 'depth', 'choices', 1, 'params')['units_3'] = width), 'search.space.depth.choices[1].params.units_3', /nothing uses it/],
  ['a deeper layer drawn at depth 1', (b) => (at(b, 'search', 'space', 'depth', 'choices', 0)['params'] = { units_2: width, dropout_2: rate }), 'search.space.depth.choices[0].params.units_2', /nothing uses it/],
  // Types that do not fit their field.
  ['string into units', (b) => (at(b, 'search', 'space')['units_1'] = { type: 'categorical', choices: ['wide', 'narrow'] }), 'model.layers[1].$repeat.block[0].units', /number/],
  ['float into units', (b) => (at(b, 'search', 'space')['units_1'] = { type: 'uniform', low: 16, high: 256 }), 'model.layers[1].$repeat.block[0].units', /int/],
  ['number into an activation', (b) => (at(b, 'model', 'layers', 1, '$repeat', 'block', 0)['activation'] = { $param: 'lr' }), 'model.layers[1].$repeat.block[0].activation', /expected one of/],
  ['string into a learning rate', (b) => (at(b, 'training', 'optimizer')['learningRate'] = { $param: 'scaling' }), 'training.optimizer.learningRate', /number/],
  ['boolean into epochs', (b) => ((at(b, 'training')['epochs'] = { $param: 'flag' }), (at(b, 'search', 'space')['flag'] = { type: 'categorical', choices: [true, false] })), 'training.epochs', /number|integer/],
  ['unknown scaling choice', (b) => (at(b, 'search', 'space')['scaling'] = { type: 'categorical', choices: ['unit', 'minmax'] }), 'dataset.scaling', /minmax/],
  ['string repeat count', (b) => (at(b, 'search', 'space', 'depth') as Json)['choices'] = ['one', 'two'], 'model.layers[1].$repeat.times', /repeat count/],
  ['fractional repeat count', (b) => (at(b, 'model', 'layers', 1, '$repeat')['times'] = { $param: 'beta2' }), 'model.layers[1].$repeat.times', /repeat count/],
  // Invalid only at one corner.
  ['units past the limit at the high end', (b) => (at(b, 'search', 'space')['units_1'] = { type: 'intlog', low: 16, high: 100_000 }), 'model.layers[1].$repeat.block[0].units', /units_1 = 100000/],
  ['dropout of 1 at the high end', (b) => (at(b, 'search', 'space')['dropout_1'] = { type: 'uniform', low: 0, high: 1 }), 'model.layers[1].$repeat.block[1].rate', /dropout_1 = 1/],
  ['beta2 of 1 at the high end', (b) => (at(b, 'search', 'space')['beta2'] = { type: 'uniform', low: 0.9, high: 1 }), 'training.optimizer.beta2', /beta2 = 1/],
  ['learning rate past the limit', (b) => (at(b, 'search', 'space')['lr'] = { type: 'loguniform', low: 1e-4, high: 1000 }), 'training.optimizer.learningRate', /lr = 1000/],
  ['negative warm-up at the low end', (b) => (at(b, 'search', 'space')['warmup'] = { type: 'int', low: -1, high: 2 }), 'training.schedule.warmupEpochs', /first value/],
  ['an activation whose alpha is invalid for one choice', (b) => {
    Object.assign(at(b, 'model', 'layers', 1, '$repeat', 'block', 0), { activation: { $param: 'act' }, alpha: 0.2 });
    at(b, 'search', 'space')['act'] = { type: 'categorical', choices: ['leaky_relu', 'relu'] };
  }, 'model.layers[1].$repeat.block[0].alpha', /act = "relu"/],
  ['batch size below microbatches at one choice', (b) => ((at(b, 'training')['batchSize'] = { $param: 'bs' }), (at(b, 'training')['microbatches'] = 4), (at(b, 'search', 'space')['bs'] = { type: 'categorical', choices: [64, 2] })), 'training.microbatches', /bs = 2/],
  ['no validation split at one choice, with a val_ objective', (b) => ((at(b, 'dataset')['validationFraction'] = { $param: 'vf' }), (at(b, 'search', 'space')['vf'] = { type: 'categorical', choices: [0.1, 0] })), 'objective.metric', /vf = 0/],
  ['tuned epochs below the epoch budget', (b) => ((at(b, 'training')['epochs'] = { $param: 'ep' }), (at(b, 'search', 'space')['ep'] = { type: 'int', low: 2, high: 8 }), (at(b, 'search', 'budget')['maxTotalEpochs'] = 5)), 'search.budget.maxTotalEpochs', /ep = 8/],
  ['a shorthand that breaks the templated model at one corner', (b) => (at(b, 'search', 'space')['hidden'] = { type: 'intlog', low: 8, high: 100_000 }), 'search.space.hidden', /16384|≤/],
  // References in the space itself (parameters cannot depend on each other: no cycles).
  ['a bound that refers to a parameter', (b) => (at(b, 'search', 'space', 'units_1')['high'] = { $param: 'units_2' }), 'search.space.units_1.high.$param', /not references/],
  ['a choice that refers to a parameter', (b) => (at(b, 'search', 'space', 'scaling')['choices'] = [{ $param: 'scaling' }]), 'search.space.scaling.choices[0].$param', /not references/],
  ['a parameter defined as a reference', (b) => (at(b, 'search', 'space')['beta2'] = { $param: 'lr' }), 'search.space.beta2.$param', /not references/],
  ['a self-reference in the space (a cycle)', (b) => (at(b, 'search', 'space')['warmup'] = { type: 'int', low: { $param: 'warmup' }, high: 2 }), 'search.space.warmup.low.$param', /cannot depend on each other/],
  // References where a literal is required, or outside the sections.
  ['layer type', (b) => (at(b, 'model', 'layers', 0)['type'] = { $param: 'scaling' }), 'model.layers[0].type', /written literally/],
  ['loss', (b) => (at(b, 'model')['loss'] = { $param: 'scaling' }), 'model.loss', /literally/],
  ['input shape', (b) => (at(b, 'model', 'inputShape') as unknown as unknown[])[0] = { $param: 'depth' }, 'model.inputShape[0]', /literally/],
  ['dataset type', (b) => (at(b, 'dataset')['type'] = { $param: 'scaling' }), 'dataset.type', /literally/],
  ['dataset id', (b) => (b['dataset'] = { type: 'csv', id: { $param: 'scaling' } }), 'dataset.id', /literally/],
  ['a block layer type', (b) => (at(b, 'model', 'layers', 1, '$repeat', 'block', 1)['type'] = { $param: 'scaling' }), 'model.layers[1].$repeat.block[1].type', /literally/],
  ['the sweep name', (b) => (b['name'] = { $param: 'scaling' }), 'name.$param', /only in dataset, model, training/],
  ['the objective', (b) => (at(b, 'objective')['metric'] = { $param: 'scaling' }), 'objective.metric.$param', /only in/],
  ['the budget', (b) => (at(b, 'search', 'budget')['maxTrials'] = { $param: 'depth' }), 'search.budget.maxTrials.$param', /only in/],
  // Malformed directives.
  ['a reference with extra keys', (b) => (at(b, 'model', 'layers', 2)['units'] = { $param: 'units_1', default: 10 }), 'model.layers[2].units', /alone/],
  ['a reference to a number', (b) => (at(b, 'model', 'layers', 2)['units'] = { $param: 3 }), 'model.layers[2].units.$param', /name/],
  ['an empty reference', (b) => (at(b, 'model', 'layers', 2)['units'] = { $param: '' }), 'model.layers[2].units.$param'],
  ['an unknown directive', (b) => (at(b, 'model', 'layers', 2)['units'] = { $ref: 'units_1' }), 'model.layers[2].units.$ref', /unknown directive/],
  ['{i} outside a repeat', (b) => (at(b, 'model', 'layers', 2)['units'] = { $param: 'units_{i}' }), 'model.layers[2].units.$param', /inside a \$repeat/],
  ['a repeat not in an array', (b) => (at(b, 'model', 'layers', 2)['units'] = { $repeat: { times: 1, block: [1] } }), 'model.layers[2].units.$repeat', /element of an array/],
  ['a repeat without a block', (b) => delete at(b, 'model', 'layers', 1, '$repeat')['block'], 'model.layers[1].$repeat.block', /non-empty array/],
  ['a repeat with an unknown field', (b) => (at(b, 'model', 'layers', 1, '$repeat')['count'] = 2), 'model.layers[1].$repeat.count', /not a field/],
  ['a repeat with a negative count', (b) => (at(b, 'model', 'layers', 1, '$repeat')['times'] = -1), 'model.layers[1].$repeat.times', /integer in \[0, 64\]/],
  ['nested repeats', (b) => (at(b, 'model', 'layers', 1, '$repeat', 'block') as unknown as unknown[]).push({ $repeat: { times: 1, block: [{ type: 'dropout', rate: 0.1 }] } }), 'model.layers[1].$repeat.block[2].$repeat', /do not nest/],
  // Bounded work.
  ['too many references', (b) => (at(b, 'model')['layers'] as unknown[]).splice(2, 0, ...Array.from({ length: 1001 }, () => ({ type: 'dropout', rate: { $param: 'dropout_1' } }))), 'model', /at most 1000/],
  ['a repeat that expands past the limit', (b) => {
    at(b, 'model', 'layers', 1, '$repeat')['times'] = 64;
    at(b, 'model', 'layers', 1, '$repeat')['block'] = Array.from({ length: 17 }, () => ({ type: 'dropout', rate: 0.1 }));
  }, 'model.layers', /more than 1024 elements/],
  ['a repeat with siblings', (b) => (at(b, 'model', 'layers', 1)['type'] = 'dense'), 'model.layers[1]', /alone/],
];

describe('malformed templated specs are refused, naming the path', () => {
  it(`has at least 40 cases (${cases.length})`, () => expect(cases.length).toBeGreaterThanOrEqual(40));
  for (const [name, mutate, path, message] of cases) {
    it(name, () => {
      const body = clone(templated());
      mutate(body);
      const issues = refused(body);
      expect(issues.length, `${name}: accepted`).toBeGreaterThan(0);
      const hit = issues.find((i) => i.path === path);
      expect(hit, `${name}: no issue at ${path}; got ${JSON.stringify(issues)}`).toBeDefined();
      if (message) expect(hit!.message).toMatch(message);
      // One problem, one detail: not once from the lift and again from the corners.
      expect(issues.filter((i) => i.path === path), JSON.stringify(issues)).toHaveLength(1);
    });
  }
});

describe('$select: a categorical chooses between alternative layer lists', () => {
  const withArch = (): Json => {
    const body = templated();
    const layers = at(body, 'model')['layers'] as unknown[];
    layers.splice(2, 0, {
      $select: {
        by: { $param: 'arch' },
        cases: {
          plain: [],
          bottleneck: [{ type: 'dense', units: { $param: 'neck' }, activation: 'tanh' }],
        },
      },
    });
    at(body, 'search', 'space')['arch'] = { type: 'categorical', choices: ['plain', { value: 'bottleneck', params: { neck: { type: 'int', low: 4, high: 16 } } }] };
    return body;
  };

  it('resolves each choice to its case, with the case\'s own parameters', () => {
    const request = CreateSweepRequest.parse(withArch());
    const base = { lr: 1e-3, scaling: 'unit', beta2: 0.99, warmup: 0, units_1: 32, dropout_1: 0, depth: 1 };
    const plain = resolveTrialConfig(request, { ...base, arch: 'plain' });
    expect(plain.model.layers.map((l) => l.type)).toEqual(['flatten', 'dense', 'dropout', 'dense']);
    const neck = resolveTrialConfig(request, { ...base, arch: 'bottleneck', neck: 8 });
    expect(neck.model.layers.map((l) => l.type)).toEqual(['flatten', 'dense', 'dropout', 'dense', 'dense']);
    expect(neck.model.layers[3]).toMatchObject({ units: 8, activation: 'tanh' });
  });

  const selectCases: Case[] = [
    ['a choice without a case', (b) => (at(b, 'search', 'space', 'arch') as Json)['choices'] = ['plain', { value: 'bottleneck', params: { neck: { type: 'int', low: 4, high: 16 } } }, 'wide'], 'model.layers[2].$select.by', /"wide" has no case/],
    ['a case no choice selects', (b) => (at(b, 'model', 'layers', 2, '$select', 'cases')['deep'] = []), 'model.layers[2].$select.cases.deep', /no choice/],
    ['by is not a reference', (b) => (at(b, 'model', 'layers', 2, '$select')['by'] = 'arch'), 'model.layers[2].$select.by', /must be a reference/],
    ['a case that is not a list', (b) => (at(b, 'model', 'layers', 2, '$select', 'cases')['plain'] = { type: 'dense' }), 'model.layers[2].$select.cases.plain', /list of elements/],
    ['no cases', (b) => (at(b, 'model', 'layers', 2, '$select')['cases'] = {}), 'model.layers[2].$select.cases', /at least one case/],
    ['nested selects', (b) => (at(b, 'model', 'layers', 2, '$select', 'cases')['plain'] = [{ $select: { by: { $param: 'arch' }, cases: { plain: [] } } }]), 'model.layers[2].$select.cases.plain[0].$select', /do not nest/],
    ['a select outside a list', (b) => (at(b, 'model', 'layers', 0)['units'] = { $select: { by: { $param: 'arch' }, cases: { plain: [] } } }), 'model.layers[0].units.$select', /element of an array/],
    ['a case parameter drawn where its case is not taken', (b) => {
      (at(b, 'search', 'space', 'arch') as Json)['choices'] = ['plain', 'bottleneck'];
      at(b, 'search', 'space')['neck'] = { type: 'int', low: 4, high: 16 };
    }, 'search.space.neck', /nothing uses it/],
  ];
  for (const [name, mutate, path, message] of selectCases) {
    it(`refuses ${name}`, () => {
      const body = withArch();
      mutate(body);
      const issues = refused(body);
      const hit = issues.find((i) => i.path === path);
      expect(hit, `no issue at ${path}; got ${JSON.stringify(issues)}`).toBeDefined();
      if (message) expect(hit!.message).toMatch(message);
    });
  }
});

describe('bounded work', () => {
  it('refuses a templated space with more branch combinations than it checks, rather than checking part of it', () => {
    const body = templated();
    const layers = at(body, 'model')['layers'] as unknown[];
    // Nine categoricals that open (empty) sub-spaces: 512 combinations of branches.
    for (let g = 0; g < 9; g++) {
      layers.splice(1, 0, { type: 'dropout', rate: { $param: `g${g}` } });
      at(body, 'search', 'space')[`g${g}`] = { type: 'categorical', choices: [{ value: 0, params: {} }, { value: 0.1, params: {} }] };
    }
    const issues = refused(body);
    expect(issues.find((i) => i.path === 'search.space')?.message, JSON.stringify(issues)).toMatch(/at most 1024 \(or 256 combinations of branches\)/);
  });

  it('checks a wide numeric categorical at its least, greatest and first choices, not each one', () => {
    const body = templated();
    at(body, 'search', 'space')['units_1'] = { type: 'categorical', choices: Array.from({ length: 500 }, (_, i) => 500 - i) };
    const corners = cornersOf(parseSpace(at(body, 'search', 'space')))!;
    const seen = new Set(corners.map((c) => c.params['units_1']));
    expect([...seen].sort((a, b) => (a as number) - (b as number))).toEqual([1, 500]);
    expect(CreateSweepRequest.safeParse(body).success).toBe(true);
  });
});

describe('checkTrainable on a templated sweep', () => {
  const mnist: DatasetFacts = { name: 'mnist', task: 'classification', featureShape: [28, 28], numClasses: 10, featureBytes: 1, sizes: { train: 1000, test: 200 } };
  const limits = { maxPlanBytes: 2 ** 30, threads: 2 };

  it('accepts the sweep on MNIST', () => {
    expect(checkTrainable(CreateSweepRequest.parse(templated()), mnist, limits)).toEqual([]);
  });

  it('refuses an output layer that fits the dataset only at some corners', () => {
    const body = templated();
    at(body, 'model', 'layers', 2)['units'] = { $param: 'classes' };
    at(body, 'search', 'space')['classes'] = { type: 'categorical', choices: [10, 12] };
    const issues = checkTrainable(CreateSweepRequest.parse(body), mnist, limits);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.message).toMatch(/12 units.*classes = 12/);
  });

  it('plans the largest corner: three wide layers only together exceed the limit', () => {
    const body = templated();
    const wide = { type: 'intlog', low: 16, high: 16_384 };
    Object.assign(at(body, 'search', 'space'), { units_1: wide });
    Object.assign(at(body, 'search', 'space', 'depth', 'choices', 1, 'params'), { units_2: wide });
    Object.assign(at(body, 'search', 'space', 'depth', 'choices', 2, 'params'), { units_2: wide, units_3: wide });
    const issues = checkTrainable(CreateSweepRequest.parse(body), mnist, limits);
    expect(issues.map((d) => d.path)).toEqual(['model.layers']);
    expect(issues[0]!.message).toMatch(/largest trial \(when depth = 3, every other parameter at its last value/);
  });
});
