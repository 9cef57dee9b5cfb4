import { CreateSweepRequest } from '@hypersweep/schemas';
import { describe, expect, it } from 'vitest';
import { mnistTpeAshaSweep } from '../../../../packages/schemas/src/fixtures.ts';
import { formatSpec, parseSpecText } from './spec-text.ts';

describe('sweep editor text', () => {
  it.each(['json', 'yaml'] as const)('round-trips a sweep through %s', (format) => {
    const text = formatSpec(mnistTpeAshaSweep(), format);
    const parsed = parseSpecText(text, format);
    expect('value' in parsed && parsed.value).toEqual(mnistTpeAshaSweep());
    expect(CreateSweepRequest.safeParse('value' in parsed ? parsed.value : null).success).toBe(true);
  });

  it('reads YAML as the CLI does (1.0e-4 and 1e-4 are numbers)', () => {
    const parsed = parseSpecText('space:\n  learningRate: { type: loguniform, low: 1e-4, high: 1.0e-1 }\n', 'yaml');
    expect(parsed).toEqual({ value: { space: { learningRate: { type: 'loguniform', low: 1e-4, high: 0.1 } } } });
  });

  it('reports where the text is broken', () => {
    const json = parseSpecText('{\n  "name": "x"\n  "dataset": 1\n}\n', 'json');
    expect('error' in json && json.line).toBe(3);
    const y = parseSpecText('name: x\ndataset:\n  type: [mnist\n', 'yaml');
    expect('error' in y && y.line).toBeGreaterThanOrEqual(3);
    expect(parseSpecText('  ', 'json')).toEqual({ error: 'the editor is empty', line: null, column: null });
  });
});
