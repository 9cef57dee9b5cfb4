// Typed errors of the dataset loaders; callers branch on `code`, never on messages.

export type DatasetErrorCode =
  /** IDX bytes end before the header or the data the header promises. */
  | 'IDX_TRUNCATED'
  /** IDX bytes do not start with two zero bytes. */
  | 'IDX_BAD_MAGIC'
  /** IDX type byte is none of 0x08 0x09 0x0B 0x0C 0x0D 0x0E. */
  | 'IDX_BAD_DTYPE'
  /** IDX data is longer than the header says, or files disagree (images vs labels). */
  | 'IDX_SIZE_MISMATCH'
  /** No data rows (empty text, blank lines only, or a header only). */
  | 'CSV_EMPTY'
  /** A record has more or fewer fields than the header / first record. */
  | 'CSV_FIELD_COUNT'
  /** A feature (or regression label) is not a decimal number. */
  | 'CSV_NON_NUMERIC'
  /** A value spells NaN or Infinity, or overflows to it. */
  | 'CSV_NON_FINITE'
  /** An empty feature or label field. */
  | 'CSV_MISSING_VALUE'
  /** The requested label column is not in the header / out of range. */
  | 'CSV_MISSING_LABEL_COLUMN'
  /** Broken RFC 4180 quoting: an unterminated quote or text after a closing quote. */
  | 'CSV_BAD_QUOTING'
  /** The file has a label column and nothing else. */
  | 'CSV_NO_FEATURES'
  /** A class has too few examples to appear in every requested split. */
  | 'CLASS_TOO_SMALL'
  /** A requested split (or subset) cannot be formed from the examples at hand. */
  | 'SPLIT_TOO_SMALL'
  /** An option is out of range or contradicts another one. */
  | 'INVALID_OPTION'
  /** `loadDataset` was asked for an id that is not registered. */
  | 'UNKNOWN_DATASET'
  /** A placement does not fit in the target buffer or is misaligned. */
  | 'PLACEMENT_OUT_OF_BOUNDS';

/** A column as a user sees it: its header name, or its 1-based position when there is no header. */
export type ColumnRef = string | number;

export interface DatasetErrorDetails {
  /** 1-based line in the source text, as an editor shows it. */
  line?: number;
  column?: ColumnRef;
  cause?: unknown;
}

export class DatasetError extends Error {
  readonly code: DatasetErrorCode;
  readonly line?: number;
  readonly column?: ColumnRef;

  constructor(code: DatasetErrorCode, message: string, details: DatasetErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'DatasetError';
    this.code = code;
    if (details.line !== undefined) this.line = details.line;
    if (details.column !== undefined) this.column = details.column;
  }
}

/** Renders a column for a message: names are quoted, positions are "column 3". */
export function describeColumn(column: ColumnRef): string {
  return typeof column === 'string' ? `column "${column}"` : `column ${column}`;
}
