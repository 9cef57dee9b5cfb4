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
  /** An uploaded IDX file's rank, dimension or channel count is not one an image dataset takes. */
  | 'IDX_BAD_SHAPE'
  /** An uploaded labels file does not have one label per image. */
  | 'IDX_COUNT_MISMATCH'
  /** An uploaded label is not a class id below the dataset's number of classes. */
  | 'IDX_LABEL_RANGE'
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
  /** The label column's name is in the header more than once. */
  | 'CSV_AMBIGUOUS_LABEL_COLUMN'
  /** Broken RFC 4180 quoting: an unterminated quote or text after a closing quote. */
  | 'CSV_BAD_QUOTING'
  /** The file has a label column and nothing else. */
  | 'CSV_NO_FEATURES'
  /** Parsing the file needs more memory than a parse is given. */
  | 'CSV_TOO_LARGE'
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
  /** Uploaded IDX files: which file (the upload's field, e.g. "trainImages"). */
  file?: string;
  /** Uploaded IDX files: the byte offset (in the decompressed file) where the problem is. */
  offset?: number;
  /** Uploaded IDX files: the header field at fault ("magic", "dims[1]"), when it is one. */
  header?: string;
  /** INVALID_OPTION: the option at fault ("delimiter", "validationFraction"). */
  option?: string;
  cause?: unknown;
}

/** Every detail but the cause: one list, so the constructor and details() never disagree. */
const DETAIL_KEYS = ['line', 'column', 'file', 'offset', 'header', 'option'] as const satisfies readonly (keyof DatasetErrorDetails)[];

export class DatasetError extends Error {
  readonly code: DatasetErrorCode;
  readonly line?: number;
  readonly column?: ColumnRef;
  readonly file?: string;
  readonly offset?: number;
  readonly header?: string;
  readonly option?: string;

  constructor(code: DatasetErrorCode, message: string, details: DatasetErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'DatasetError';
    this.code = code;
    for (const key of DETAIL_KEYS) if (details[key] !== undefined) Object.assign(this, { [key]: details[key] });
  }

  /** The details given to the constructor, as plain data (without the cause): what crosses a thread. */
  details(): Omit<DatasetErrorDetails, 'cause'> {
    const out: Omit<DatasetErrorDetails, 'cause'> = {};
    for (const key of DETAIL_KEYS) if (this[key] !== undefined) Object.assign(out, { [key]: this[key] });
    return out;
  }
}

/** Renders a column for a message: names are quoted, positions are "column 3". */
export function describeColumn(column: ColumnRef): string {
  return typeof column === 'string' ? `column "${column}"` : `column ${column}`;
}
