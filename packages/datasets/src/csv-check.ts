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

/** Below this many characters the parse takes a few tens of milliseconds: done in place, without a thread. */
export const CSV_THREAD_MIN_CHARS = 1 << 18;
/** Parses on threads at once, per process: each holds its text and its records (GBs for 64 MiB). */
export const CSV_PARSE_THREADS = 1;
/** A parse thread's heap: a parse that needs more is refused (CSV_TOO_LARGE), not the process killed. */
export const CSV_PARSE_HEAP_MB = 4096;

const THREAD_ENTRY = fileURLToPath(new URL('../dist/csv-check-thread.mjs', import.meta.url));

/** A DatasetError as plain data (an allocation the table's size made fail is CSV_TOO_LARGE); anything else is rethrown. */
function failureOf(error: unknown): CsvCheckFailure {
  if (error instanceof RangeError && /allocation failed|Invalid typed array length|Invalid array buffer length/.test(error.message)) {
    return { code: 'CSV_TOO_LARGE', message: `this CSV needs more memory than can be allocated (${error.message}): split it, or drop columns it does not need`, details: {} };
  }
  if (!(error instanceof DatasetError)) throw error;
  return { code: error.code, message: error.message, details: error.details() };
}

/** parseCsv's dataset, or the DatasetError that refuses the text (never throws one). */
export function parseCsvAnswer(text: string, options: CsvOptions): CsvParseAnswer {
  try {
    return { dataset: parseCsv(text, options) };
  } catch (error) {
    return { failure: failureOf(error) };
  }
}

/** Parses `text` and answers its summary, or the DatasetError that refuses it (never throws one). */
export function summarizeCsv(text: string, options: CsvOptions): CsvCheckAnswer {
  const answer = parseCsvAnswer(text, options);
  if ('failure' in answer) return answer;
  const d = answer.dataset;
  return { summary: { featureShape: [...d.featureShape], numClasses: d.numClasses ?? null, sizes: { train: d.train.count, validation: d.validation.count, test: d.test.count } } };
}

export interface ThreadLimits {
  /** The parse thread's heap (default CSV_PARSE_HEAP_MB). */
  readonly heapMb?: number;
  /** Ends the parse (the caller went away): a queued one never starts, a running one's thread is terminated. */
  readonly signal?: AbortSignal;
}

/** Parse threads running now (for tests of the limit). */
export const parseThreadsInUse = (): number => running;
/** Parse threads terminated by their signal so far (for tests of the cancellation). */
export const parseThreadsAborted = (): number => aborted;

const thrown = (failure: CsvCheckFailure) => new DatasetError(failure.code, failure.message, failure.details);

/**
 * The summary of an uploaded CSV; throws the DatasetError that refuses it. A large text is parsed
 * on a thread of its own, so the caller's event loop keeps turning meanwhile.
 */
export async function checkCsvUpload(text: string, options: CsvOptions, limits: ThreadLimits = {}): Promise<CsvSummary> {
  const answer = text.length < CSV_THREAD_MIN_CHARS ? summarizeCsv(text, options) : await onThread<CsvCheckAnswer>({ text, options, want: 'summary' }, limits);
  if ('failure' in answer) throw thrown(answer.failure);
  return answer.summary;
}

/** parseCsv, on a thread of its own for a large text: the same dataset, bit for bit. */
export async function parseCsvOffThread(text: string, options: CsvOptions, limits: ThreadLimits = {}): Promise<CsvDataset> {
  if (text.length < CSV_THREAD_MIN_CHARS) return parseCsv(text, options);
  const answer = await onThread<CsvParseAnswer>({ text, options, want: 'dataset' }, limits);
  if ('failure' in answer) throw thrown(answer.failure);
  return answer.dataset;
}

/** Runs `task` once fewer than CSV_PARSE_THREADS others run; the rest wait in order. */
const queue: (() => void)[] = [];
let running = 0;
let aborted = 0;
async function limited<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  signal?.throwIfAborted();
  // A finishing task hands its slot to the next in line, so a newcomer cannot take it meanwhile.
  if (running >= CSV_PARSE_THREADS) {
    // Woken with a slot handed over, or dropped from the line by the signal (holding none).
    await new Promise<void>((resolve, reject) => {
      const drop = () => {
        queue.splice(queue.indexOf(wake), 1);
        reject(signal?.reason);
      };
      const wake = () => {
        signal?.removeEventListener('abort', drop);
        resolve();
      };
      queue.push(wake);
      signal?.addEventListener('abort', drop, { once: true });
    });
  } else running++;
  try {
    return await task();
  } finally {
    handOn();
  }
}

function handOn(): void {
  const next = queue.shift();
  if (next) next();
  else running--;
}

function onThread<T>(request: CsvThreadRequest, limits: ThreadLimits): Promise<T> {
  const heapMb = limits.heapMb ?? CSV_PARSE_HEAP_MB;
  const { signal } = limits;
  if (!existsSync(THREAD_ENTRY)) throw new Error(`${THREAD_ENTRY} is missing: run \`npm run build -w @hypersweep/datasets\``);
  return limited(
    () =>
      new Promise<T>((resolve, reject) => {
        if (signal?.aborted) {
          reject(signal.reason);
          return;
        }
        // The entry is plain JS: no loader flags of the parent (tsx) are inherited.
        const thread = new Worker(THREAD_ENTRY, { execArgv: [], workerData: request, resourceLimits: { maxOldGenerationSizeMb: heapMb } });
        let answered = false;
        // The slot is held until the thread is gone.
        const abort = () => {
          answered = true;
          aborted++;
          void thread.terminate().finally(() => reject(signal?.reason));
        };
        signal?.addEventListener('abort', abort, { once: true });
        const settle = () => {
          answered = true;
          signal?.removeEventListener('abort', abort);
        };
        thread.once('message', (answer: T) => {
          settle();
          resolve(answer);
        });
        thread.once('error', (error: NodeJS.ErrnoException) => {
          settle();
          if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') {
            reject(new DatasetError('CSV_TOO_LARGE', `parsing this CSV needs more than ${heapMb} MB of memory: split it, or drop columns it does not need`));
          } else reject(error);
        });
        thread.once('exit', (code) => {
          if (!answered) {
            settle();
            reject(new Error(`the CSV parse thread ended (exit code ${code}) without an answer`));
          }
        });
      }),
    signal,
  );
}
