// CSVs parsed off the event loop when large: parsing tens of megabytes takes seconds, during which
// a process on one thread would answer nothing (an API's health checks and other requests, the
// keep-alive of its database transactions, a worker's heartbeats). An upload's check needs only
// its summary; a dataset to train on comes back whole, its arrays moved, not copied.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parseCsv, type CsvDataset, type CsvOptions } from './csv.ts';
import { DatasetError, type DatasetErrorCode, type DatasetErrorDetails } from './errors.ts';

/** What an upload needs of its parse: the table's shape, classes and split sizes. */
export interface CsvSummary {
  readonly featureShape: readonly number[];
  readonly numClasses: number | null;
  readonly sizes: { readonly train: number; readonly validation: number; readonly test: number };
}

/** A DatasetError as it crosses from the parse thread (an Error's own fields do not). */
export interface CsvCheckFailure {
  readonly code: DatasetErrorCode;
  readonly message: string;
  readonly details: Omit<DatasetErrorDetails, 'cause'>;
}

export type CsvCheckAnswer = { readonly summary: CsvSummary } | { readonly failure: CsvCheckFailure };
export type CsvParseAnswer = { readonly dataset: CsvDataset } | { readonly failure: CsvCheckFailure };

/** What the thread is asked: the summary of a text, or the whole dataset. */
export interface CsvThreadRequest {
  readonly text: string;
  readonly options: CsvOptions;
  readonly want: 'summary' | 'dataset';
}

/** Below this many characters the parse takes milliseconds: done in place, without a thread. */
export const CSV_THREAD_MIN_CHARS = 1 << 20;

const THREAD_ENTRY = fileURLToPath(new URL('../dist/csv-check-thread.mjs', import.meta.url));

/** A DatasetError as plain data; anything else is rethrown. */
function failureOf(error: unknown): CsvCheckFailure {
  if (!(error instanceof DatasetError)) throw error;
  const { line, column, file, offset, header, option } = error;
  const details = Object.fromEntries(Object.entries({ line, column, file, offset, header, option }).filter(([, v]) => v !== undefined));
  return { code: error.code, message: error.message, details };
}

/** Parses `text` and answers its summary, or the DatasetError that refuses it (never throws one). */
export function summarizeCsv(text: string, options: CsvOptions): CsvCheckAnswer {
  try {
    const d = parseCsv(text, options);
    return { summary: { featureShape: [...d.featureShape], numClasses: d.numClasses ?? null, sizes: { train: d.train.count, validation: d.validation.count, test: d.test.count } } };
  } catch (error) {
    return { failure: failureOf(error) };
  }
}

/** parseCsv's dataset, or the DatasetError that refuses the text (never throws one). */
export function parseCsvAnswer(text: string, options: CsvOptions): CsvParseAnswer {
  try {
    return { dataset: parseCsv(text, options) };
  } catch (error) {
    return { failure: failureOf(error) };
  }
}

const thrown = (failure: CsvCheckFailure) => new DatasetError(failure.code, failure.message, failure.details);

/**
 * The summary of an uploaded CSV; throws the DatasetError that refuses it. A large text is parsed
 * on a thread of its own, so the caller's event loop keeps turning meanwhile.
 */
export async function checkCsvUpload(text: string, options: CsvOptions): Promise<CsvSummary> {
  const answer = text.length < CSV_THREAD_MIN_CHARS ? summarizeCsv(text, options) : await onThread<CsvCheckAnswer>({ text, options, want: 'summary' });
  if ('failure' in answer) throw thrown(answer.failure);
  return answer.summary;
}

/** parseCsv, on a thread of its own for a large text: the same dataset, bit for bit. */
export async function parseCsvOffThread(text: string, options: CsvOptions): Promise<CsvDataset> {
  if (text.length < CSV_THREAD_MIN_CHARS) return parseCsv(text, options);
  const answer = await onThread<CsvParseAnswer>({ text, options, want: 'dataset' });
  if ('failure' in answer) throw thrown(answer.failure);
  return answer.dataset;
}

function onThread<T>(request: CsvThreadRequest): Promise<T> {
  if (!existsSync(THREAD_ENTRY)) throw new Error(`${THREAD_ENTRY} is missing: run \`npm run build -w @hypersweep/datasets\``);
  return new Promise((resolve, reject) => {
    const thread = new Worker(THREAD_ENTRY, { workerData: request });
    let answered = false;
    thread.once('message', (answer: T) => {
      answered = true;
      resolve(answer);
    });
    thread.once('error', reject);
    thread.once('exit', (code) => {
      if (!answered) reject(new Error(`the CSV parse thread ended (exit code ${code}) without an answer`));
    });
  });
}
