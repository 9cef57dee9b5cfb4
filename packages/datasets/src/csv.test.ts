// Tests of the RFC 4180 record parser and of parseCsv / loadCsvFile: splits, training-only
// standardisation, label mapping, and errors that point at the line and column.
import { fileURLToPath } from 'node:url';
import { Rng } from '@hypersweep/nn';
import { describe, expect, it } from 'vitest';
import { csvUploadErrorPath, csvUploadOptions, loadCsvFile, parseCsv, parseCsvRecords, plainDecimal, type CsvOptions } from './csv.ts';
import { DatasetError } from './errors.ts';

const fixture = (name: string): string => fileURLToPath(new URL(`../test/fixtures/${name}`, import.meta.url));

/** Runs fn and returns the DatasetError it throws (failing the test if it does not). */
function errorOf(fn: () => unknown): DatasetError {
  try {
    fn();
  } catch (error) {
    if (error instanceof DatasetError) return error;
    throw error;
  }
  throw new Error('expected a DatasetError, nothing was thrown');
}

/** A balanced classification table: `perClass` rows of classes a and b, features x and y. */
function table(perClass: number, header = 'x,y,label'): string {
  const lines = [header];
  for (let i = 0; i < perClass; i++) {
    lines.push(`${i},${2 * i},a`);
    lines.push(`${-i},${-2 * i + 0.5},b`);
  }
  return lines.join('\n') + '\n';
}

const classification: CsvOptions = { labelColumn: 'label', task: 'classification', validationFraction: 0.2, testFraction: 0.2, seed: 1 };

/**
 * A generated table written as a careful CSV writer would: random fields (delimiters, quotes, line
 * breaks, spaces, non-ASCII, empty) quoted where they must be and now and then where they need not,
 * a random delimiter, mixed line ends, a byte-order mark and a final line end or not; with the
 * 1-based line each record starts on.
 */
function generatedCsv(seed: number): { text: string; delimiter: string; records: string[][]; lines: number[] } {
  const rng = Rng.fromSeed(seed);
  const pick = <T,>(items: readonly T[]): T => items[rng.int(items.length)]!;
  const delimiter = pick([',', ';', '\t', '|']);
  const pieces = ['a', 'Z', '1', '-2.5e3', ' ', '"', ',', ';', '\t', '|', '\n', '\r', '\r\n', 'é', '😀', '""'];
  const columns = 1 + rng.int(6);
  const records = Array.from({ length: 1 + rng.int(20) }, () =>
    Array.from({ length: columns }, () => Array.from({ length: rng.int(5) }, () => pick(pieces)).join('')),
  );
  let text = rng.float() < 0.3 ? '\ufeff' : '';
  const lines: number[] = [];
  let line = 1;
  records.forEach((fields, r) => {
    lines.push(line);
    const cells = fields.map((f) => {
      // A lone empty field must be quoted, or its line reads as blank.
      const must = /["\r\n]/.test(f) || f.includes(delimiter) || (columns === 1 && f === '');
      return must || rng.float() < 0.2 ? `"${f.replaceAll('"', '""')}"` : f;
    });
    const record = cells.join(delimiter);
    line += (record.match(/\r\n|\r|\n/g) ?? []).length;
    const last = r === records.length - 1;
    if (!last || rng.float() < 0.5) {
      text += record + pick(['\n', '\r\n', '\r']);
      line++;
    } else {
      text += record;
    }
  });
  return { text, delimiter, records, lines };
}

describe('parseCsvRecords on generated tables', () => {
  it.each(Array.from({ length: 300 }, (_, i) => i + 1))('table %i: every field and the line each record starts on', (seed) => {
    const { text, delimiter, records, lines } = generatedCsv(seed);
    const parsed = parseCsvRecords(text, delimiter);
    expect(parsed.map((r) => r.fields), JSON.stringify(text)).toEqual(records);
    expect(parsed.map((r) => r.line), JSON.stringify(text)).toEqual(lines);
  });
});

describe('plainDecimal', () => {
  it('reads generated decimals to the same double as Number(), -0 included, and leaves the rest to it (NaN)', () => {
    const rng = Rng.fromSeed(11);
    const digits = (n: number) => Array.from({ length: n }, () => String(rng.int(10))).join('');
    let fast = 0;
    for (let k = 0; k < 20_000; k++) {
      const sign = ['', '-', '+'][rng.int(3)]!;
      const whole = digits(rng.int(18));
      const fraction = rng.float() < 0.6 ? `.${digits(rng.int(25))}` : '';
      const tail = ['', '', '', 'e5', ' ', 'x', '.'][rng.int(7)]!;
      const field = sign + whole + fraction + tail;
      const read = plainDecimal(field);
      if (Number.isNaN(read)) continue;
      fast++;
      expect(Object.is(read, Number(field)), field).toBe(true);
    }
    // Most generated fields are plain, so the comparison above ran on thousands of them.
    expect(fast).toBeGreaterThan(5_000);
    for (const field of ['', '-', '+', '.', '-.', '1e3', ' 1', '1 ', '1.2.3', '0x1f', 'Infinity', '1234567890123456']) {
      expect(plainDecimal(field), field).toBeNaN();
    }
    expect(Object.is(plainDecimal('-0'), -0)).toBe(true);
    expect([plainDecimal('5.'), plainDecimal('.25'), plainDecimal('007'), plainDecimal('0.1')]).toEqual([5, 0.25, 7, 0.1]);
  });
});

describe('parseCsv errors of a named source', () => {
  it('prefix the source once, whether the record parser or a field check found them, keeping line and column', () => {
    const options: CsvOptions = { ...classification, source: 'data.csv' };
    const quoting = errorOf(() => parseCsv('x,y,label\n1,"2,a\n', options));
    expect(quoting).toMatchObject({ code: 'CSV_BAD_QUOTING', line: 2, column: 2 });
    expect(quoting.message).toMatch(/^data\.csv: line 2, column 2: quoted field is never closed$/);
    const field = errorOf(() => parseCsv('x,y,label\n1,six,a\n', options));
    expect(field).toMatchObject({ code: 'CSV_NON_NUMERIC', line: 2, column: 'y' });
    expect(field.message).toMatch(/^data\.csv: line 2, column "y": feature "six" is not a number$/);
  });
});

describe('parseCsv of a wide table', () => {
  it('takes 4 rows of 6 million columns, its row storage growing with the rows (room for 1,024 rows once asked for 49 GB and failed)', () => {
    const columns = 6_000_000;
    const row = (r: number) => Array.from({ length: columns }, (_, j) => (j === columns - 1 ? String(r) : String((r + j) % 7))).join(',');
    const text = [0, 1, 2, 3].map(row).join('\n');
    const d = parseCsv(text, { labelColumn: -1, task: 'regression', validationFraction: 0, testFraction: 0.25, scaling: 'none', seed: 1 });
    expect(d.featureShape).toEqual([columns - 1]);
    expect(d.train.count + d.test.count).toBe(4);
    // Each stored row is its own: the label r and the features (r + j) mod 7.
    for (const split of [d.train, d.test]) {
      for (let i = 0; i < split.count; i++) {
        const r = split.labels[i]!;
        expect([split.features[i * (columns - 1)], split.features[i * (columns - 1) + 5]]).toEqual([r % 7, (r + 5) % 7]);
      }
    }
  }, 60_000);
});

describe('parseCsvRecords', () => {
  it('splits fields and records, with CRLF, LF and CR line ends', () => {
    const records = parseCsvRecords('a,b\r\nc,d\ne,f\rg,h');
    expect(records.map((r) => r.fields)).toEqual([['a', 'b'], ['c', 'd'], ['e', 'f'], ['g', 'h']]);
    expect(records.map((r) => r.line)).toEqual([1, 2, 3, 4]);
  });

  it('handles quoted delimiters, escaped quotes and line breaks inside quotes', () => {
    const records = parseCsvRecords('"a,1","say ""hi""",x\n"two\nlines",y,"z"\nlast,,\n');
    expect(records.map((r) => r.fields)).toEqual([
      ['a,1', 'say "hi"', 'x'],
      ['two\nlines', 'y', 'z'],
      ['last', '', ''],
    ]);
    // The record after a two-line field starts on line 4.
    expect(records.map((r) => r.line)).toEqual([1, 2, 4]);
    expect(records[1]!.fieldLines).toEqual([2, 3, 3]);
  });

  it('keeps an empty quoted field and a trailing empty field', () => {
    expect(parseCsvRecords('"",a,').map((r) => r.fields)).toEqual([['', 'a', '']]);
  });

  it('ignores a byte-order mark and supports other delimiters', () => {
    expect(parseCsvRecords('\ufeffa;b\n1;2', ';').map((r) => r.fields)).toEqual([['a', 'b'], ['1', '2']]);
  });

  it('reports an unterminated quote at the line where it opens', () => {
    const e = errorOf(() => parseCsvRecords('a,b\n1,"2\n3,4\n'));
    expect(e.code).toBe('CSV_BAD_QUOTING');
    expect(e.line).toBe(2);
    expect(e.column).toBe(2);
    expect(e.message).toMatch(/never closed/);
  });

  it('reports text after a closing quote', () => {
    const e = errorOf(() => parseCsvRecords('a,b\n"1"x,2\n'));
    expect(e.code).toBe('CSV_BAD_QUOTING');
    expect(e.line).toBe(2);
    expect(e.column).toBe(1);
  });

  it('refuses a multi-character delimiter', () => {
    expect(errorOf(() => parseCsvRecords('a', '::')).code).toBe('INVALID_OPTION');
  });
});

describe('parseCsv: classification', () => {
  it('splits stratified and deterministically, mapping labels to sorted class ids', () => {
    const d = parseCsv(table(50), classification);
    expect(d.task).toBe('classification');
    expect(d.featureShape).toEqual([2]);
    expect(d.featureNames).toEqual(['x', 'y']);
    expect(d.labelName).toBe('label');
    expect(d.classNames).toEqual(['a', 'b']);
    expect(d.numClasses).toBe(2);
    expect([d.train.count, d.validation.count, d.test.count]).toEqual([60, 20, 20]);
    for (const split of [d.train, d.validation, d.test]) {
      expect(split.features).toBeInstanceOf(Float32Array);
      expect(split.labels).toBeInstanceOf(Int32Array);
      expect(split.features.length).toBe(split.count * 2);
      const ones = Array.from(split.labels).filter((l) => l === 1).length;
      expect(ones * 2).toBe(split.count);
    }
    const again = parseCsv(table(50), classification);
    expect(Array.from(again.test.features)).toEqual(Array.from(d.test.features));
    const other = parseCsv(table(50), { ...classification, seed: 2 });
    expect(Array.from(other.test.features)).not.toEqual(Array.from(d.test.features));
  });

  it('standardises with training statistics only', () => {
    const d = parseCsv(table(50), classification);
    if (d.normalization.kind !== 'standardized') throw new Error('expected standardized normalisation');
    const { mean, std } = d.normalization;
    // Training features have mean 0 and std 1 per column after standardisation...
    for (let j = 0; j < 2; j++) {
      const col = Array.from({ length: d.train.count }, (_, i) => d.train.features[i * 2 + j]!);
      const m = col.reduce((a, b) => a + b, 0) / col.length;
      const s = Math.sqrt(col.reduce((a, b) => a + (b - m) ** 2, 0) / col.length);
      expect(m).toBeCloseTo(0, 5);
      expect(s).toBeCloseTo(1, 5);
    }
    // ...and the statistics are not those of all rows (the test split is not folded in).
    const allX = Array.from({ length: 50 }, (_, i) => [i, -i]).flat();
    const allMean = allX.reduce((a, b) => a + b, 0) / allX.length;
    expect(mean[0]).not.toBeCloseTo(allMean, 6);
    // Inverting the standardisation gives back original values: x = z·std + mean.
    const x0 = d.test.features[0]! * std[0]! + mean[0]!;
    expect(Math.abs(x0 - Math.round(x0))).toBeLessThan(1e-4);
  });

  it('sorts numeric class names numerically and maps each row to its class id', () => {
    const lines = ['f,label'];
    for (let i = 0; i < 30; i++) {
      const label = [10, 2, 1][i % 3]!;
      lines.push(`${label},${label}`);
    }
    const d = parseCsv(lines.join('\n'), { ...classification, testFraction: 0.1, validationFraction: 0.1 });
    expect(d.classNames).toEqual(['1', '2', '10']);
    if (d.normalization.kind !== 'standardized') throw new Error('expected standardized normalisation');
    const { mean, std } = d.normalization;
    for (const split of [d.train, d.validation, d.test]) {
      for (let i = 0; i < split.count; i++) {
        // The feature equals the label, so un-standardising it must give the row's class name.
        const f = split.features[i]! * std[0]! + mean[0]!;
        expect(Math.round(f)).toBe(Number(d.classNames![split.labels[i]!]));
      }
    }
  });

  it('finds the label by index (negative from the end) and detects a header', () => {
    const withHeader = parseCsv(table(20), { ...classification, labelColumn: -1 });
    expect(withHeader.featureNames).toEqual(['x', 'y']);
    expect(withHeader.train.count + withHeader.validation.count + withHeader.test.count).toBe(40);

    const noHeader = table(20).split('\n').slice(1).join('\n');
    const d = parseCsv(noHeader, { ...classification, labelColumn: 2 });
    expect(d.featureNames).toEqual(['column 1', 'column 2']);
    expect(d.labelName).toBe('column 3');
    expect(d.train.count + d.validation.count + d.test.count).toBe(40);
  });

  it('puts the label column anywhere', () => {
    const text = 'label,x\n' + Array.from({ length: 20 }, (_, i) => `${i % 2 ? 'odd' : 'even'},${i}`).join('\n');
    const d = parseCsv(text, { ...classification, labelColumn: 0 });
    expect(d.featureNames).toEqual(['x']);
    expect(d.classNames).toEqual(['even', 'odd']);
  });

  it('refuses a class with too few rows for train, validation and test, naming it and its line', () => {
    const text = table(20) + '5,5,rare\n6,6,rare\n';
    const e = errorOf(() => parseCsv(text, classification));
    expect(e.code).toBe('CLASS_TOO_SMALL');
    expect(e.line).toBe(42);
    expect(e.column).toBe('label');
    expect(e.message).toMatch(/line 42, column "label": class "rare" has 2 rows; .* at least 3/);
  });

  it('refuses a single class', () => {
    const text = 'x,label\n1,a\n2,a\n3,a\n4,a\n5,a\n';
    expect(errorOf(() => parseCsv(text, classification)).code).toBe('CLASS_TOO_SMALL');
  });
});

describe('parseCsv: regression', () => {
  it('returns float32 labels with targetDim 1 and leaves labels unscaled', () => {
    const lines = ['a,b,target'];
    for (let i = 0; i < 40; i++) lines.push(`${i},${i % 7},${(3 * i + 0.25).toFixed(2)}`);
    const d = parseCsv(lines.join('\n'), { labelColumn: 'target', task: 'regression', seed: 3 });
    expect(d.task).toBe('regression');
    expect(d.targetDim).toBe(1);
    expect(d.numClasses).toBeUndefined();
    expect([d.train.count, d.validation.count, d.test.count]).toEqual([28, 4, 8]);
    expect(d.train.labels).toBeInstanceOf(Float32Array);
    // Each label is still 3·a + 0.25 for its row's (unstandardised) a.
    if (d.normalization.kind !== 'standardized') throw new Error('expected standardized normalisation');
    const { mean, std } = d.normalization;
    for (let i = 0; i < d.test.count; i++) {
      const a = d.test.features[i * 2]! * std[0]! + mean[0]!;
      expect(d.test.labels[i]).toBeCloseTo(3 * Math.round(a) + 0.25, 4);
    }
  });

  it('detects a header from a text regression label', () => {
    const text = '1,2\n3,4\n5,6\n7,8\n9,10\n11,12\n13,14\n15,16\n17,18\n19,20\n';
    expect(parseCsv(text, { labelColumn: 1, task: 'regression' }).featureNames).toEqual(['column 1']);
    expect(parseCsv('x,price\n' + text, { labelColumn: 1, task: 'regression' }).featureNames).toEqual(['x']);
  });

  it('refuses too few rows to keep a training split', () => {
    expect(errorOf(() => parseCsv('x,y\n1,2\n', { labelColumn: 'y', task: 'regression', testFraction: 0.5, validationFraction: 0.4 })).code).toBe(
      'SPLIT_TOO_SMALL',
    );
  });
});

describe('parseCsv: errors name line and column', () => {
  it('non-numeric feature (by header name)', () => {
    const text = table(10).replace('\n3,6,a\n', '\n3,six,a\n');
    const e = errorOf(() => parseCsv(text, classification));
    expect(e.code).toBe('CSV_NON_NUMERIC');
    expect(e.line).toBe(8);
    expect(e.column).toBe('y');
    expect(e.message).toBe('line 8, column "y": feature "six" is not a number');
  });

  it('non-numeric feature without a header: 1-based column index', () => {
    const e = errorOf(() => parseCsv('1,2,a\n3,4,b\n5,x,a\n', { ...classification, labelColumn: 2, header: false }));
    expect(e.code).toBe('CSV_NON_NUMERIC');
    expect(e.line).toBe(3);
    expect(e.column).toBe(2);
    expect(e.message).toMatch(/^line 3, column 2: /);
  });

  it('NaN and Infinity text, and overflow (of float64, or of the float32 training runs in)', () => {
    for (const bad of ['NaN', '-Infinity', 'inf', '1e400', '1e308', '-3.5e38']) {
      const e = errorOf(() => parseCsv(table(10).replace('\n2,4,a\n', `\n2,${bad},a\n`), classification));
      expect(e.code).toBe('CSV_NON_FINITE');
      expect(e.line).toBe(6);
      expect(e.column).toBe('y');
    }
  });

  it('takes the float32 extremes', () => {
    const d = parseCsv(table(10).replace('\n2,4,a\n', '\n2,3.4e38,a\n').replace('\n3,6,a\n', '\n3,-3.4e38,a\n'), classification);
    // Standardised without overflow: every feature a finite float32.
    for (const split of [d.train, d.validation, d.test]) expect(Array.from(split.features).every(Number.isFinite)).toBe(true);
  });

  it('empty value', () => {
    const e = errorOf(() => parseCsv(table(10).replace('\n2,4,a\n', '\n,4,a\n'), classification));
    expect(e.code).toBe('CSV_MISSING_VALUE');
    expect([e.line, e.column]).toEqual([6, 'x']);
  });

  it('wrong field count', () => {
    const e = errorOf(() => parseCsv(table(10).replace('\n2,4,a\n', '\n2,4,a,extra\n'), classification));
    expect(e.code).toBe('CSV_FIELD_COUNT');
    expect(e.line).toBe(6);
    expect(e.message).toMatch(/expected 3 fields \(as in the header\), found 4/);
  });

  it('counts lines inside quoted fields and skipped blank lines', () => {
    const text = 'x,y,label\n"1",2,"multi\nline"\n\n3,oops,a\n';
    const e = errorOf(() => parseCsv(text, classification));
    expect(e.line).toBe(5);
  });

  it('empty file, blank lines only, and header only', () => {
    expect(errorOf(() => parseCsv('', classification)).code).toBe('CSV_EMPTY');
    expect(errorOf(() => parseCsv('\n\n  \n', classification)).code).toBe('CSV_EMPTY');
    expect(errorOf(() => parseCsv('x,y,label\n', classification)).message).toMatch(/header but no data rows/);
  });

  it('missing label column', () => {
    const byName = errorOf(() => parseCsv(table(10), { ...classification, labelColumn: 'class' }));
    expect(byName.code).toBe('CSV_MISSING_LABEL_COLUMN');
    expect(byName.message).toMatch(/no column named "class" in the header \("x", "y", "label"\)/);
    expect(errorOf(() => parseCsv(table(10), { ...classification, labelColumn: 3 })).code).toBe('CSV_MISSING_LABEL_COLUMN');
    expect(errorOf(() => parseCsv(table(10), { ...classification, labelColumn: 'label', header: false })).code).toBe('CSV_MISSING_LABEL_COLUMN');
  });

  it('reads an upload query: an integer label column is an index, and label-column errors point at labelColumn', () => {
    const q = { name: 'iris', labelColumn: '-1', task: 'classification', header: 'auto', delimiter: ';', testFraction: 0.25 } as const;
    expect(csvUploadOptions(q)).toEqual({ labelColumn: -1, task: 'classification', header: 'auto', delimiter: ';', name: 'iris', source: 'iris', testFraction: 0.25 });
    expect(csvUploadOptions({ ...q, labelColumn: 'species', header: 'false' })).toMatchObject({ labelColumn: 'species', header: false });
    expect(csvUploadErrorPath(errorOf(() => parseCsv(table(10), { ...classification, labelColumn: 'class' })))).toBe('labelColumn');
    expect(csvUploadErrorPath(errorOf(() => parseCsv('x,y,label\n1,2,a\n3,oops,b\n', classification)))).toBe('body (line 3, column y)');
  });

  it('a label column name the header holds twice', () => {
    const twice = errorOf(() => parseCsv('a,label,label\n1,0,1\n2,1,0\n', { ...classification, labelColumn: 'label' }));
    expect(twice.code).toBe('CSV_AMBIGUOUS_LABEL_COLUMN');
    expect(twice.message).toMatch(/columns 2 and 3 "label"/);
    expect(parseCsv('a,label,label\n' + Array.from({ length: 40 }, (_, i) => `${i},${i % 2},${i % 3}`).join('\n'), { ...classification, labelColumn: 'label', duplicateLabelName: 'first' }).numClasses).toBe(2);
    // By index it is no longer ambiguous; a feature name twice is no problem either.
    expect(parseCsv('a,a,label,label\n' + Array.from({ length: 40 }, (_, i) => `${i},${i},${i % 2},${i % 3}`).join('\n'), { ...classification, labelColumn: 2 }).featureShape).toEqual([3]);
  });

  it('a table with no feature column', () => {
    expect(errorOf(() => parseCsv('label\na\nb\n', classification)).code).toBe('CSV_NO_FEATURES');
  });

  it('bad options', () => {
    expect(errorOf(() => parseCsv(table(10), { ...classification, testFraction: 0.6, validationFraction: 0.5 })).code).toBe('INVALID_OPTION');
    expect(errorOf(() => parseCsv(table(10), { ...classification, validationFraction: -0.1 })).code).toBe('INVALID_OPTION');
  });
});

describe('loadCsvFile', () => {
  it('loads a CRLF CSV with a quoted header name', async () => {
    const d = await loadCsvFile(fixture('flowers.csv'), { labelColumn: 'species', task: 'classification', seed: 0 });
    expect(d.name).toBe('flowers');
    expect(d.featureNames).toEqual(['sepal_length', 'sepal_width', 'petal, length']);
    expect(d.classNames).toEqual(['setosa', 'versicolor', 'virginica']);
    expect([d.train.count, d.validation.count, d.test.count]).toEqual([21, 3, 6]);
    for (const split of [d.validation, d.test]) {
      expect(new Set(split.labels).size).toBe(3);
    }
  });

  it('loads a .tsv with tab delimiters by default', async () => {
    const d = await loadCsvFile(fixture('houses.tsv'), { labelColumn: 'price', task: 'regression' });
    expect(d.featureNames).toEqual(['rooms', 'area']);
    expect(d.train.count + d.validation.count + d.test.count).toBe(25);
  });

  it('prefixes errors with the file name', async () => {
    await expect(loadCsvFile(fixture('houses.tsv'), { labelColumn: 'cost', task: 'regression' })).rejects.toThrow(/^houses\.tsv: line 1: no column named "cost"/);
    // Errors from the split helpers get the prefix too: a test set of 2 rows cannot hold 3 classes.
    await expect(loadCsvFile(fixture('flowers.csv'), { labelColumn: 'species', task: 'classification', testFraction: 0.05 })).rejects.toThrow(
      /^flowers\.csv: test of 2 examples cannot hold one of each of the 3 classes/,
    );
  });
});
