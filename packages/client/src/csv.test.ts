// RFC 4180 quoting with defused formulas, and the flat table of trials (params and metrics as columns).
import { describe, expect, it } from 'vitest';
import { makeTrial } from '../test/fixtures.ts';
import { csvField, toCsv, trialTable, trialTableCsv } from './csv.ts';

/** A small RFC 4180 reader, to check that what we write reads back to the same fields. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i++;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === ',') {
      record.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i++;
    } else field += c;
    i++;
  }
  expect(field === '' && record.length === 0, 'the document ends with CRLF').toBe(true);
  return records;
}

describe('csvField', () => {
  it.each([
    ['plain', 'plain'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['"', '""""'],
    ['line\nbreak', '"line\nbreak"'],
    ['cr\rhere', '"cr\rhere"'],
    ['crlf\r\n', '"crlf\r\n"'],
    [' padded ', '" padded "'],
    ['', ''],
    ['ünïcödé ✓', 'ünïcödé ✓'],
  ])('%j → %j', (input, output) => {
    expect(csvField(input)).toBe(output);
  });

  it('defuses spreadsheet formulas in text but keeps signed numbers', () => {
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('+cmd')).toBe("'+cmd");
    expect(csvField('\tindent')).toBe("'\tindent");
    expect(csvField('-1.5e-3')).toBe('-1.5e-3');
    expect(csvField(-3)).toBe('-3');
  });

  it('writes numbers in full precision, booleans as words, null and undefined and non-finite numbers as empty', () => {
    expect([0.1 + 0.2, 1e-7, -3, true, false, null, undefined, Number.NaN].map(csvField)).toEqual([
      '0.30000000000000004',
      '1e-7',
      '-3',
      'true',
      'false',
      '',
      '',
      '',
    ]);
  });
});

describe('toCsv', () => {
  it('ends every record with CRLF and reads back to the same fields', () => {
    const rows = [
      ['a,b', 'say "hi"', 'multi\nline'],
      ['', 'x', '"'],
    ];
    const text = toCsv(['h1', 'h,2', 'h3'], rows);
    expect(text).toBe('h1,"h,2",h3\r\n"a,b","say ""hi""","multi\nline"\r\n,x,""""\r\n');
    expect(parseCsv(text)).toEqual([['h1', 'h,2', 'h3'], ...rows]);
  });
});

describe('trialTable', () => {
  it('flattens params and metrics into columns, null where a trial lacks one, rows by number', () => {
    const trials = [
      makeTrial(1, { params: { learningRate: 0.5, optimizer: 'sgd', momentum: 0.9 } }),
      makeTrial(0, { params: { learningRate: 0.25, optimizer: 'adam' }, lastMetrics: { val_accuracy: 0.5 }, status: 'stopped', reason: 'asha, rung "1"', bestValue: null, finalValue: null }),
    ];
    const table = trialTable(trials);
    expect(table.columns).toEqual([
      'number', 'trialId', 'status', 'epochsDone', 'bestValue', 'finalValue', 'attempt', 'workerId', 'reason', 'error', 'createdAt', 'startedAt', 'finishedAt',
      'param.learningRate', 'param.momentum', 'param.optimizer', 'metric.val_accuracy', 'metric.val_loss',
    ]);
    expect(table.records.map((r) => r.number)).toEqual([0, 1]);
    expect(table.records[0]).toMatchObject({ status: 'stopped', 'param.momentum': null, 'param.optimizer': 'adam', 'metric.val_loss': null, bestValue: null });
    expect(table.records[1]).toMatchObject({ 'param.momentum': 0.9, 'metric.val_accuracy': 0.891 });

    const parsed = parseCsv(trialTableCsv(table));
    expect(parsed).toHaveLength(3);
    expect(parsed[0]).toEqual(table.columns);
    const row0 = Object.fromEntries(table.columns.map((c, i) => [c, parsed[1]![i]]));
    expect(row0).toMatchObject({ number: '0', reason: 'asha, rung "1"', 'param.learningRate': '0.25', 'param.momentum': '', bestValue: '' });
  });
});
