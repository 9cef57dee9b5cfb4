// CSV datasets: an RFC 4180 record parser, and parseCsv which turns a table into a split,
// training-standardised Dataset with errors that name the offending line and column.
import { readFile } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import type { Dataset, DataSplit } from '@hypersweep/nn';
import { DatasetError, describeColumn, type ColumnRef, type DatasetErrorCode } from './errors.ts';
import { assertSeed } from './random.ts';
import { checkScaling, type Scaling } from './scaling.ts';
import { gatherRows, randomPartition, standardizationStats, standardize, stratifiedPartition, type Partition } from './split.ts';

/** Share of a CSV's rows held out for validation when the upload does not say. */
export const DEFAULT_CSV_VALIDATION_FRACTION = 0.1;

// ---------------------------------------------------------------------------------------
// Records

export interface CsvRecord {
  fields: string[];
  /** 1-based line on which the record starts. */
  line: number;
  /** 1-based start line of each field; present only when a quoted field spans lines. */
  fieldLines?: number[];
}

const QUOTE = 0x22;
const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits text into records per RFC 4180: fields in double quotes may hold the delimiter,
 * line breaks and "" (an escaped quote). CRLF, LF and a lone CR all end a record. A
 * leading byte-order mark is ignored. Blank lines come out as a record with one empty field.
 */
export function parseCsvRecords(text: string, delimiter = ','): CsvRecord[] {
  const records: CsvRecord[] = [];
  scanCsvRecords(text, delimiter, (fields, line, fieldLines) => {
    records.push(fieldLines === undefined ? { fields, line } : { fields, line, fieldLines });
  });
  return records;
}

/**
 * parseCsvRecords one record at a time: `onRecord` gets each record's fields (a new array, the
 * callee's to keep), its 1-based start line and, when a quoted field spans lines, each field's
 * start line. Nothing of a record outlives the call unless the callee keeps it, so a large table
 * turns into numbers without holding a string per field.
 */
function scanCsvRecords(text: string, delimiter: string, onRecord: (fields: string[], line: number, fieldLines: number[] | undefined) => void): void {
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new DatasetError('INVALID_OPTION', `delimiter must be one character other than a quote or line break, got ${JSON.stringify(delimiter)}`, { option: 'delimiter' });
  }
  const delim = delimiter.charCodeAt(0);
  const n = text.length;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;

  while (i < n) {
    const recordLine = line;
    const fields: string[] = [];
    let fieldLines: number[] | undefined;
    for (;;) {
      const fieldLine = line;
      let value: string;
      if (text.charCodeAt(i) === QUOTE) {
        i++;
        value = '';
        let start = i;
        for (;;) {
          if (i >= n) {
            throw new DatasetError('CSV_BAD_QUOTING', `line ${fieldLine}, column ${fields.length + 1}: quoted field is never closed`, {
              line: fieldLine,
              column: fields.length + 1,
            });
          }
          const ch = text.charCodeAt(i);
          if (ch === QUOTE) {
            if (text.charCodeAt(i + 1) === QUOTE) {
              value += text.slice(start, i + 1);
              i += 2;
              start = i;
              continue;
            }
            value += text.slice(start, i);
            i++;
            break;
          }
          if (ch === LF || (ch === CR && text.charCodeAt(i + 1) !== LF)) line++;
          i++;
        }
        const next = text.charCodeAt(i);
        if (i < n && next !== delim && next !== LF && next !== CR) {
          throw new DatasetError(
            'CSV_BAD_QUOTING',
            `line ${line}, column ${fields.length + 1}: unexpected ${JSON.stringify(text[i])} after a closing quote (write "" for a quote inside a quoted field)`,
            { line, column: fields.length + 1 },
          );
        }
      } else {
        const start = i;
        for (; i < n; i++) {
          const ch = text.charCodeAt(i);
          if (ch === delim || ch === LF || ch === CR) break;
        }
        value = text.slice(start, i);
      }
      if (fieldLines === undefined && fieldLine !== recordLine) fieldLines = new Array<number>(fields.length).fill(recordLine);
      fields.push(value);
      fieldLines?.push(fieldLine);

      if (i < n && text.charCodeAt(i) === delim) {
        i++;
        continue;
      }
      // End of record: consume CRLF, LF or CR.
      if (i < n) {
        if (text.charCodeAt(i) === CR && text.charCodeAt(i + 1) === LF) i++;
        i++;
        line++;
      }
      break;
    }
    onRecord(fields, recordLine, fieldLines);
  }
}

function isBlank(record: CsvRecord): boolean {
  return record.fields.length === 1 && record.fields[0]!.trim() === '';
}

// ---------------------------------------------------------------------------------------
// Numbers

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE_TEXT = /^[+-]?(?:nan|inf|infinity)$/i;

/** 10^k for k = 0..22: every one is exact in float64. */
const POW10 = Array.from({ length: 23 }, (_, k) => Number(`1e${k}`));

/**
 * The value of a field written as a plain decimal (`-12.5`, `0`, `.25`; at most 15 digits, at most
 * 22 after the point), read without regular expressions; NaN for anything else (spaces, exponents,
 * longer numbers), which takes the general path. The same double as Number(field): the digits make
 * an exact integer below 2^53, and one correctly rounded division by an exact power of ten rounds
 * the decimal itself (Clinger's fast path).
 */
export function plainDecimal(field: string): number {
  const n = field.length;
  let i = 0;
  let negative = false;
  const sign = field.charCodeAt(0);
  if (sign === 0x2d || sign === 0x2b) {
    negative = sign === 0x2d;
    i = 1;
  }
  let mantissa = 0;
  let digits = 0;
  let scale = 0;
  let point = false;
  for (; i < n; i++) {
    const c = field.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      mantissa = mantissa * 10 + (c - 0x30);
      digits++;
      if (point) scale++;
    } else if (c === 0x2e && !point) {
      point = true;
    } else {
      return NaN;
    }
  }
  if (digits === 0 || digits > 15 || scale > 22) return NaN;
  const value = scale === 0 ? mantissa : mantissa / POW10[scale]!;
  return negative ? -value : value;
}

/** Whether a field reads as a number, finite or not (used to tell a header from data). */
function looksNumeric(raw: string): boolean {
  const t = raw.trim();
  return DECIMAL.test(t) || NON_FINITE_TEXT.test(t);
}

// ---------------------------------------------------------------------------------------
// Datasets

export interface CsvOptions {
  /** The label column: its header name, or its 0-based index (negative counts from the end: -1 is the last). */
  labelColumn: string | number;
  task: 'classification' | 'regression';
  /** Whether the first record is a header. 'auto' (default): yes when labelColumn is a name, or when a field of the first record that must be numeric is not. */
  header?: boolean | 'auto';
  /** Field separator, one character. Default ','. */
  delimiter?: string;
  /** Share of rows held out for validation. Default DEFAULT_CSV_VALIDATION_FRACTION (0.1). */
  validationFraction?: number;
  /** Share of rows held out as the test set. Default 0.2. */
  testFraction?: number;
  /** Seeds the split. Default 0. */
  seed?: number;
  /**
   * A label column name the header holds more than once: 'refuse' (default), or 'first' to take
   * the first, as a stored upload is read, so that it never parses stricter than when it was accepted.
   */
  duplicateLabelName?: 'refuse' | 'first';
  /**
   * 'standardize' (default): each feature column standardised with the training split's mean and
   * std; 'none': features kept as given (normalization with mean 0 and std 1). 'unit' is refused.
   */
  scaling?: CsvScaling;
  /** Dataset name. Default 'csv'. */
  name?: string;
  /** Prefixes error messages, e.g. the file name. */
  source?: string;
}

/** An upload's query as the API's CsvUploadQuery parses it: every value as text but the fractions. */
export interface CsvUploadFields {
  readonly name: string;
  readonly labelColumn: string;
  readonly task: 'classification' | 'regression';
  readonly header: 'true' | 'false' | 'auto';
  readonly delimiter: string;
  readonly validationFraction?: number | undefined;
  readonly testFraction?: number | undefined;
}

/** The parse options of an upload: an integer labelColumn is an index, the name also prefixes errors. */
export function csvUploadOptions(q: CsvUploadFields): CsvOptions {
  return {
    labelColumn: /^-?\d+$/.test(q.labelColumn) ? Number(q.labelColumn) : q.labelColumn,
    task: q.task,
    header: q.header === 'auto' ? 'auto' : q.header === 'true',
    delimiter: q.delimiter,
    name: q.name,
    source: q.name,
    ...(q.validationFraction !== undefined ? { validationFraction: q.validationFraction } : {}),
    ...(q.testFraction !== undefined ? { testFraction: q.testFraction } : {}),
  };
}

/**
 * Where an upload's parse error points, as a request field: `labelColumn` for a label column the
 * header lacks or names twice, the option for an option refused (both the query's fault), else the
 * body with the line and column.
 */
export function csvUploadErrorPath(error: DatasetError): string {
  if (error.code === 'CSV_MISSING_LABEL_COLUMN' || error.code === 'CSV_AMBIGUOUS_LABEL_COLUMN') return 'labelColumn';
  // The upload's options are its query parameters, named alike.
  if (error.code === 'INVALID_OPTION' && error.option !== undefined) return error.option;
  return error.line !== undefined ? `body (line ${error.line}${error.column !== undefined ? `, column ${error.column}` : ''})` : 'body';
}

export const CSV_SCALINGS = ['standardize', 'none'] as const satisfies readonly Scaling[];
export type CsvScaling = (typeof CSV_SCALINGS)[number];

export interface CsvDataset extends Dataset {
  /** One name per feature: header names, or "column N" (1-based) without a header. */
  readonly featureNames: readonly string[];
  readonly labelName: string;
}

function checkFraction(value: number, what: string): number {
  if (!Number.isFinite(value) || value < 0 || value >= 1) {
    throw new DatasetError('INVALID_OPTION', `${what} must be in [0, 1), got ${String(value)}`, { option: what });
  }
  return value;
}

/** Sorted class names: numerically when every name is a number ("2" before "10"), else by code unit (locale-free, so stable everywhere). */
function sortClassNames(names: string[]): string[] {
  const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  if (names.every((s) => DECIMAL.test(s))) return names.sort((a, b) => Number(a) - Number(b) || byCodeUnit(a, b));
  return names.sort(byCodeUnit);
}

/**
 * Parses a CSV table into a Dataset: features standardised per column with the training
 * split's mean and std (unless `scaling: 'none'`), classification labels mapped to ids of the sorted class names,
 * regression labels as float32 (targetDim 1). The split into train / validation / test is
 * deterministic by seed and stratified by class for classification.
 */
export function parseCsv(text: string, options: CsvOptions): CsvDataset {
  const delimiter = options.delimiter ?? ',';
  const seed = options.seed ?? 0;
  assertSeed(seed);
  const scaling = checkScaling(options.scaling ?? 'standardize', CSV_SCALINGS, 'a CSV dataset');
  const validationFraction = checkFraction(options.validationFraction ?? DEFAULT_CSV_VALIDATION_FRACTION, 'validationFraction');
  const testFraction = checkFraction(options.testFraction ?? 0.2, 'testFraction');
  if (validationFraction + testFraction >= 1) {
    throw new DatasetError('INVALID_OPTION', `validationFraction + testFraction must be below 1, got ${validationFraction + testFraction}`, { option: 'validationFraction' });
  }
  if (options.task !== 'classification' && options.task !== 'regression') {
    throw new DatasetError('INVALID_OPTION', `task must be 'classification' or 'regression', got ${String(options.task)}`, { option: 'task' });
  }
  const prefix = options.source === undefined ? '' : `${options.source}: `;
  const fail = (code: DatasetErrorCode, message: string, line?: number, column?: ColumnRef): never => {
    const where = [line === undefined ? '' : `line ${line}`, column === undefined ? '' : describeColumn(column)].filter(Boolean).join(', ');
    throw new DatasetError(code, `${prefix}${where === '' ? '' : `${where}: `}${message}`, {
      ...(line === undefined ? {} : { line }),
      ...(column === undefined ? {} : { column }),
    });
  };

  // Errors raised by helpers (record parser, partitions) get the same source prefix.
  const sourced = (error: unknown): unknown =>
    error instanceof DatasetError && prefix !== '' ? new DatasetError(error.code, prefix + error.message, { ...error.details(), cause: error }) : error;
  const withSource = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      throw sourced(error);
    }
  };

  // One pass: the first non-blank record settles the header, the label column and the width, and
  // every data record turns into numbers at once, so no string of a field outlives its record.
  let first: CsvRecord | undefined;
  let hasHeader = false;
  let labelIndex = 0;
  let width = 0;
  let headerNames: string[] | undefined;
  const featureColumns: number[] = [];
  let dim = 0;
  const regression = options.task === 'regression';
  // `||` on purpose: an empty header cell is named by its position instead.
  const columnRef = (j: number): ColumnRef => headerNames?.[j] || j + 1;
  const lineOf = (r: CsvRecord, j: number): number => r.fieldLines?.[j] ?? r.line;

  const settle = (r: CsvRecord): void => {
    width = r.fields.length;
    const labelColumn = options.labelColumn;
    if (typeof labelColumn === 'string') {
      if (options.header === false) {
        fail('CSV_MISSING_LABEL_COLUMN', `labelColumn "${labelColumn}" is a name but the file is read without a header`);
      }
      hasHeader = true;
      const names = r.fields.map((f) => f.trim());
      labelIndex = names.indexOf(labelColumn.trim());
      if (labelIndex < 0) {
        fail('CSV_MISSING_LABEL_COLUMN', `no column named "${labelColumn}" in the header (${names.map((n) => `"${n}"`).join(', ')})`, r.line);
      }
      const again = names.indexOf(labelColumn.trim(), labelIndex + 1);
      if (again >= 0 && options.duplicateLabelName !== 'first') {
        fail('CSV_AMBIGUOUS_LABEL_COLUMN', `the header names columns ${labelIndex + 1} and ${again + 1} "${labelColumn}": name the label column by its index instead`, r.line);
      }
    } else {
      if (!Number.isInteger(labelColumn) || labelColumn >= width || labelColumn < -width) {
        fail('CSV_MISSING_LABEL_COLUMN', `labelColumn ${labelColumn} is outside the ${width} columns (0-based; -1 is the last)`, r.line);
      }
      labelIndex = labelColumn < 0 ? width + labelColumn : labelColumn;
      // A header is a first row with text where the data must be numbers (classification labels may be text anyway).
      hasHeader =
        options.header === true ||
        (options.header !== false && r.fields.some((f, j) => (j !== labelIndex || regression) && f.trim() !== '' && !looksNumeric(f)));
    }
    if (width < 2) fail('CSV_NO_FEATURES', `the table has only the label column; it needs at least one feature column`, r.line);
    if (hasHeader) headerNames = r.fields.map((f) => f.trim());
    for (let j = 0; j < width; j++) if (j !== labelIndex) featureColumns.push(j);
    dim = featureColumns.length;
  };

  const parseNumber = (r: CsvRecord, j: number, what: string): number => {
    const raw = r.fields[j]!;
    const plain = plainDecimal(raw);
    if (!Number.isNaN(plain)) return plain;
    const t = raw.trim();
    if (t === '') return fail('CSV_MISSING_VALUE', `${what} is empty`, lineOf(r, j), columnRef(j));
    if (NON_FINITE_TEXT.test(t)) return fail('CSV_NON_FINITE', `${what} is ${JSON.stringify(t)}; only finite numbers are allowed`, lineOf(r, j), columnRef(j));
    if (!DECIMAL.test(t)) return fail('CSV_NON_NUMERIC', `${what} ${JSON.stringify(raw)} is not a number`, lineOf(r, j), columnRef(j));
    const v = Number(t);
    if (!Number.isFinite(v)) return fail('CSV_NON_FINITE', `${what} ${JSON.stringify(t)} overflows to ${v}`, lineOf(r, j), columnRef(j));
    // Training is float32: a larger magnitude would be ±Infinity there (and its column's mean and
    // standard deviation overflow even in float64).
    if (!Number.isFinite(Math.fround(v))) return fail('CSV_NON_FINITE', `${what} ${JSON.stringify(t)} is beyond float32's range (±3.4e38)`, lineOf(r, j), columnRef(j));
    return v;
  };

  // Rows grow by doubling; classification labels become ids in first-seen order, renumbered by
  // sorted class name once all are known.
  let capacity = 0;
  let count = 0;
  let values = new Float64Array(0);
  let numericLabels = new Float64Array(0);
  let seenIds = new Int32Array(0);
  const seenIdOf = new Map<string, number>();
  const seenFirstLine: number[] = [];
  const addRow = (r: CsvRecord): void => {
    if (r.fields.length !== width) {
      fail('CSV_FIELD_COUNT', `expected ${width} fields${hasHeader ? ' (as in the header)' : ' (as on the first row)'}, found ${r.fields.length}`, r.line);
    }
    if (count === capacity) {
      // From about a megabyte of values (a 10-million-column table of 3 rows must not ask for 1,024).
      capacity = Math.max(count + 1, capacity * 2, Math.min(1024, Math.ceil(2 ** 17 / dim)));
      const grown = new Float64Array(capacity * dim);
      grown.set(values);
      values = grown;
      if (regression) {
        const labels = new Float64Array(capacity);
        labels.set(numericLabels);
        numericLabels = labels;
      } else {
        const ids = new Int32Array(capacity);
        ids.set(seenIds);
        seenIds = ids;
      }
    }
    const base = count * dim;
    for (let k = 0; k < dim; k++) values[base + k] = parseNumber(r, featureColumns[k]!, 'feature');
    if (regression) {
      numericLabels[count] = parseNumber(r, labelIndex, 'label');
    } else {
      const label = r.fields[labelIndex]!.trim();
      if (label === '') fail('CSV_MISSING_VALUE', 'label is empty', lineOf(r, labelIndex), columnRef(labelIndex));
      let id = seenIdOf.get(label);
      if (id === undefined) {
        id = seenIdOf.size;
        seenIdOf.set(label, id);
        seenFirstLine.push(lineOf(r, labelIndex));
      }
      seenIds[count] = id;
    }
    count++;
  };

  // The record parser's own errors get the source prefix; those of `fail` have it already.
  let ours: unknown;
  try {
    scanCsvRecords(text, delimiter, (fields, line, fieldLines) => {
      const r: CsvRecord = fieldLines === undefined ? { fields, line } : { fields, line, fieldLines };
      if (isBlank(r)) return;
      try {
        if (first === undefined) {
          first = r;
          settle(r);
          if (!hasHeader) addRow(r);
        } else {
          addRow(r);
        }
      } catch (error) {
        ours = error;
        throw error;
      }
    });
  } catch (error) {
    throw error === ours ? error : sourced(error);
  }
  if (first === undefined) return fail('CSV_EMPTY', 'the file has no rows');
  if (count === 0) return fail('CSV_EMPTY', 'the file has a header but no data rows');
  values = values.subarray(0, count * dim);

  const holdouts = [Math.round(testFraction * count), Math.round(validationFraction * count)];
  const labelColumnRef = columnRef(labelIndex);
  let partition: Partition;
  let classNames: string[] | undefined;
  let classIds: Int32Array | undefined;
  if (!regression) {
    const names = sortClassNames([...seenIdOf.keys()]);
    const idOfName = new Map(names.map((name, id) => [name, id]));
    const sortedId = Int32Array.from(seenIdOf.keys(), (name) => idOfName.get(name)!);
    const ids = Int32Array.from(seenIds.subarray(0, count), (seen) => sortedId[seen]!);
    classNames = names;
    classIds = ids;
    if (names.length < 2) {
      return fail('CLASS_TOO_SMALL', `classification needs at least 2 classes, found only "${names[0]!}"`, undefined, labelColumnRef);
    }
    // Checked here rather than left to the partition so the message can point at a row.
    const needed = 1 + holdouts.filter((h) => h > 0).length;
    const perClass = new Array<number>(names.length).fill(0);
    const firstLine = new Array<number>(names.length).fill(0);
    seenFirstLine.forEach((line, seen) => {
      firstLine[sortedId[seen]!] = line;
    });
    for (const c of ids) perClass[c]!++;
    perClass.forEach((n, c) => {
      if (n < needed) {
        fail(
          'CLASS_TOO_SMALL',
          `class "${names[c]!}" has ${n} row${n === 1 ? '' : 's'}; a stratified split into train, validation and test with these fractions needs at least ${needed}`,
          firstLine[c],
          labelColumnRef,
        );
      }
    });
    partition = withSource(() =>
      stratifiedPartition(ids, {
        numClasses: names.length,
        classNames: names,
        seed,
        stream: 'csv-split',
        holdouts,
        holdoutNames: ['test', 'validation'],
        restName: 'train',
      }),
    );
  } else {
    if (holdouts[0]! + holdouts[1]! >= count) {
      return fail('SPLIT_TOO_SMALL', `${count} rows leave no training rows after holding out ${holdouts[0]} for test and ${holdouts[1]} for validation`);
    }
    partition = withSource(() => randomPartition(count, { seed, stream: 'csv-split', holdouts, holdoutNames: ['test', 'validation'], restName: 'train' }));
  }

  // Standardise with training statistics only, so validation and test never leak into the model inputs;
  // without scaling, the identity statistics keep the values as given.
  const stats =
    scaling === 'standardize' ? standardizationStats(values, dim, partition.rest) : { mean: new Array<number>(dim).fill(0), std: new Array<number>(dim).fill(1) };
  const makeSplit = (indices: Int32Array): DataSplit => ({
    count: indices.length,
    features: standardize(gatherRows(values, dim, indices), dim, stats),
    labels: classIds !== undefined ? gatherRows(classIds, 1, indices) : Float32Array.from(gatherRows(numericLabels, 1, indices)),
  });

  const featureNames = featureColumns.map((j) => headerNames?.[j] || `column ${j + 1}`);
  const labelName = headerNames?.[labelIndex] || `column ${labelIndex + 1}`;
  const common = {
    name: options.name ?? 'csv',
    featureShape: [dim],
    featureNames,
    labelName,
    normalization: { kind: 'standardized' as const, mean: stats.mean, std: stats.std },
    train: makeSplit(partition.rest),
    validation: makeSplit(partition.holdouts[1]!),
    test: makeSplit(partition.holdouts[0]!),
  };
  return classNames !== undefined
    ? { ...common, task: 'classification', numClasses: classNames.length, classNames }
    : { ...common, task: 'regression', targetDim: 1 };
}

/** Reads a CSV (or, by extension, tab-separated .tsv) file and parses it with parseCsv. */
export async function loadCsvFile(path: string, options: CsvOptions): Promise<CsvDataset> {
  const text = await readFile(path, 'utf8');
  const ext = extname(path).toLowerCase();
  return parseCsv(text, {
    ...options,
    delimiter: options.delimiter ?? (ext === '.tsv' ? '\t' : ','),
    name: options.name ?? basename(path, extname(path)),
    source: options.source ?? basename(path),
  });
}
