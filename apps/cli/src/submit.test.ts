// Reading a sweep file: YAML and JSON syntax errors with line and column, schema errors with paths.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CreateSweepRequest } from '@hypersweep/schemas';
import { spiralsRequest } from '../test/fixtures.ts';
import { ValidationFailure } from './command.ts';
import { formatOf, loadSweepFile, parseSweepText, validateSweep } from './submit.ts';

const work = mkdtempSync(join(tmpdir(), 'hypersweep-cli-submit-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function failure(fn: () => unknown): ValidationFailure {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationFailure);
    return error as ValidationFailure;
  }
  throw new Error('expected a ValidationFailure');
}

async function loadFailure(name: string, text: string): Promise<ValidationFailure> {
  writeFileSync(join(work, name), text);
  const error = await loadSweepFile(name, work).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ValidationFailure);
  return error as ValidationFailure;
}

describe('parseSweepText', () => {
  it('picks the format from the extension; anything but .json reads as YAML', () => {
    expect([formatOf('a.json'), formatOf('A.JSON'), formatOf('a.yaml'), formatOf('a.yml'), formatOf('sweep')]).toEqual(['json', 'json', 'yaml', 'yaml', 'yaml']);
  });

  it('reads YAML and JSON to the same value', () => {
    const json = JSON.stringify(spiralsRequest(), null, 2);
    expect(parseSweepText(json, 'json')).toEqual(spiralsRequest());
    expect(parseSweepText(json, 'yaml')).toEqual(spiralsRequest());
  });

  it('keeps YAML to plain data: dates stay strings, numbers in exponent form are numbers', () => {
    expect(parseSweepText('name: 2024-01-01\nlow: 1.0e-4\nhigh: 1e-1\nflag: yes\n', 'yaml')).toEqual({ name: '2024-01-01', low: 1e-4, high: 0.1, flag: 'yes' });
  });

  it.each([
    ['{\n  "name": "x",\n  "dataset": {"type": "mnist"}\n  "model": 3\n}', 'line 4, column 3', "Expected ',' or '}' after property value"],
    ['{"a": 1,\n "b": }', 'line 2, column 7', "Unexpected token '}'"],
    ['{"a": "abc', 'line 1, column 11', 'Unterminated string'],
    ['', 'line 1, column 1', 'Unexpected end of JSON input'],
  ])('names the line and column of a JSON syntax error: %j', (text, path, message) => {
    const error = failure(() => parseSweepText(text, 'json', 'sweep.json'));
    expect(error.message).toBe('sweep.json is not valid JSON');
    expect(error.details).toEqual([{ path, message }]);
  });

  it.each([
    ['name: x\nsearch: [1, 2\nobjective: {}\n', 'line 3, column 1'],
    ['name: x\n  bad: indent\n', 'line 2, column 6'],
    ['name: x\nname: y\n', 'line 2, column 1'],
  ])('names the line and column of a YAML syntax error: %j', (text, path) => {
    const error = failure(() => parseSweepText(text, 'yaml', 'sweep.yaml'));
    expect(error.message).toBe('sweep.yaml is not valid YAML');
    expect(error.details[0]!.path).toBe(path);
    expect(error.details[0]!.message).not.toBe('');
  });
});

describe('validateSweep', () => {
  it('accepts a valid sweep and returns it as written', () => {
    expect(validateSweep(spiralsRequest())).toEqual({ ok: true, request: spiralsRequest() });
  });

  it('reports every problem once, each with its path', () => {
    const request = spiralsRequest() as Record<string, unknown> & { model: { layers: unknown[] } };
    const result = validateSweep({
      ...request,
      name: '',
      model: { ...request.model, layers: [{ type: 'dense', units: 0 }, { type: 'dense', units: 2 }] },
      training: { epochs: 2000 },
      extra: true,
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const paths = result.details.map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['name', 'model.layers[0].units', 'training.epochs', 'extra']));
    expect(new Set(result.details.map((d) => `${d.path}:${d.message}`)).size).toBe(result.details.length);
    expect(result.details.find((d) => d.path === 'training.epochs')!.message).toBe('must be ≤ 1000');
    expect(result.details.find((d) => d.path === 'extra')!.message).toBe('is not a known field');
  });

  it('reports a document that is not an object at the top level', () => {
    const result = validateSweep([1, 2]);
    expect(result).toMatchObject({ ok: false, details: [{ path: '' }] });
  });
});

describe('loadSweepFile', () => {
  it('loads the example sweep shipped with the CLI', async () => {
    const request = await loadSweepFile(new URL('../examples/mnist-tpe-asha.yaml', import.meta.url).pathname);
    expect(request).toMatchObject({ name: 'mnist tpe+asha', search: { sampler: { type: 'tpe' }, budget: { maxTrials: 12 } } });
  });

  it('loads the depth-and-widths example: references, a repeated block, YAML anchors for the shared definitions', async () => {
    // Sent as written: the server lifts the references into `template` as the schema does here.
    const request = await loadSweepFile(new URL('../examples/mnist-depth-widths.yaml', import.meta.url).pathname);
    expect(request.model.layers[1]).toHaveProperty('$repeat');
    const parsed = CreateSweepRequest.parse(request);
    expect(Object.keys(parsed.template ?? {}).sort()).toEqual(['dataset', 'model', 'training']);
    expect(parsed.objective).toEqual({ metric: 'val_top3_accuracy', mode: 'maximize' });
    expect(parsed.search.space['depth']).toMatchObject({ choices: [{ value: 1 }, { value: 2, params: { units_2: { type: 'intlog' } } }, { value: 3 }] });
  });

  it('loads the CNN example: filters, kernel size and dropout per conv block through references', async () => {
    const request = await loadSweepFile(new URL('../examples/mnist-cnn.yaml', import.meta.url).pathname);
    const parsed = CreateSweepRequest.parse(request);
    expect(Object.keys(parsed.template ?? {}).sort()).toEqual(['model', 'training']);
    expect(Object.keys(parsed.search.space).sort()).toEqual(['dropout_1', 'dropout_2', 'filters_1', 'filters_2', 'kernel_1', 'kernel_2', 'lr']);
  });

  it('names the file and counts the problems of an invalid YAML sweep', async () => {
    const error = await loadFailure(
      'bad.yaml',
      [
        'name: bad',
        'dataset: { type: spirals, noise: 20 }',
        'model:',
        '  inputShape: [2]',
        '  layers: [{ type: dense, units: 2 }]',
        '  loss: softmax_cross_entropy',
        'training: { epochs: 3 }',
        'search:',
        '  space: { learningRate: { type: loguniform, low: 0, high: 1 } }',
        '  budget: { maxTrials: 2 }',
        'objective: { metric: val_loss, mode: maximize }',
      ].join('\n'),
    );
    expect(error.message).toMatch(/^bad\.yaml is not a valid sweep \(\d+ problems?\)$/);
    expect(error.details.map((d) => d.path)).toEqual(expect.arrayContaining(['dataset.noise', 'objective.mode']));
    expect(error.details.some((d) => d.path.startsWith('search.space.learningRate'))).toBe(true);
  });

  it('reports the same problems for the same sweep in JSON', async () => {
    const bad = { ...spiralsRequest(), training: { epochs: 0 } };
    const error = await loadFailure('bad.json', JSON.stringify(bad));
    expect(error.details).toEqual([{ path: 'training.epochs', message: 'must be ≥ 1' }]);
  });

  it('says when a file cannot be read', async () => {
    const error = await loadSweepFile('missing.yaml', work).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationFailure);
    expect((error as Error).message).toBe('cannot read missing.yaml (ENOENT)');
  });
});
