// CSVs parsed off the event loop: a large one on a thread of its own (the caller's event loop keeps
// turning), with the same summary, or the same dataset bit for bit, as in place; a refusal crosses
// back with its line and column.
import { describe, expect, it } from 'vitest';
import { DatasetCache } from './cache.ts';
import { CSV_PARSE_THREADS, CSV_THREAD_MIN_CHARS, checkCsvUpload, parseCsvOffThread, parseThreadsInUse, summarizeCsv } from './csv-check.ts';
import { parseCsv } from './csv.ts';
import { DatasetError } from './errors.ts';

/** A three-class table of `rows` rows, `bad` replacing one feature of row `badRow` (1-based after the header). */
function table(rows: number, bad?: { row: number; value: string }): string {
  const lines = ['a,b,label'];
  for (let i = 1; i <= rows; i++) lines.push(`${bad?.row === i ? bad.value : (i * 37) % 101},${(i * 0.25) % 7},c${i % 3}`);
  return `${lines.join('\n')}\n`;
}

/** Turns of the event loop until `work` settles. */
async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  let done = false;
  const spin = () => {
    if (done) return;
    turns++;
    setImmediate(spin);
  };
  setImmediate(spin);
  try {
    return { result: await work(), turns };
  } finally {
    done = true;
  }
}

describe('checkCsvUpload', () => {
  const options = { labelColumn: 'label', task: 'classification' as const };

  it('parses a large CSV on its own thread, with the summary of a parse in place', async () => {
    const text = table(120_000);
    expect(text.length).toBeGreaterThan(CSV_THREAD_MIN_CHARS);
    const { result, turns } = await turnsDuring(() => checkCsvUpload(text, options));
    // Parsed in place, the loop would not turn once before the answer.
    expect(turns).toBeGreaterThan(1);
    expect(result).toEqual((summarizeCsv(text, options) as { summary: unknown }).summary);
    expect(result).toMatchObject({ featureShape: [2], numClasses: 3 });
    expect(result.sizes.train + result.sizes.validation + result.sizes.test).toBe(120_000);
  });

  it('answers a small CSV in place', async () => {
    const { result, turns } = await turnsDuring(() => checkCsvUpload(table(30), options));
    expect(turns).toBe(0);
    expect(result.sizes.train + result.sizes.validation + result.sizes.test).toBe(30);
  });

  it("refuses a large CSV with the parse's DatasetError, its line and column kept", async () => {
    const text = table(120_000, { row: 119_000, value: 'six' });
    const error = await checkCsvUpload(text, options).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DatasetError);
    expect(error).toMatchObject({ code: 'CSV_NON_NUMERIC', line: 119_001, column: 'a' });
    expect((error as DatasetError).message).toBe('line 119001, column "a": feature "six" is not a number');
  });
});

describe('parseCsvOffThread', () => {
  it('gives the dataset parseCsv gives, bit for bit, from a thread; DatasetCache loads uploads with it', async () => {
    const text = table(120_000);
    const options = { labelColumn: 'label', task: 'classification' as const, seed: 5 };
    const { result, turns } = await turnsDuring(() => parseCsvOffThread(text, options));
    expect(turns).toBeGreaterThan(1);
    const inPlace = parseCsv(text, options);
    expect(result).toEqual(inPlace);
    expect(result.train.features).toBeInstanceOf(Float32Array);
    expect(result.train.labels).toBeInstanceOf(Int32Array);

    const cache = new DatasetCache(async () => ({ text, options }));
    const loaded = await turnsDuring(() => cache.get({ type: 'csv', id: 'big' }));
    expect(loaded.turns).toBeGreaterThan(1);
    expect(loaded.result).toEqual(inPlace);
  });

  it('throws the DatasetError of a refused text', async () => {
    await expect(parseCsvOffThread(table(120_000, { row: 5, value: 'nan?' }), { labelColumn: 'label', task: 'classification' })).rejects.toMatchObject({ code: 'CSV_NON_NUMERIC', line: 6 });
  });
});

describe('parse threads', () => {
  const options = { labelColumn: 'label', task: 'classification' as const };

  it(`run at most ${CSV_PARSE_THREADS} at once per process; the others wait their turn and get their own answers`, async () => {
    const texts = [table(40_000), table(41_000), table(42_000, { row: 7, value: 'x' }), table(43_000)];
    let most = 0;
    let settled = false;
    const watch = () => {
      most = Math.max(most, parseThreadsInUse());
      if (!settled) setImmediate(watch);
    };
    watch();
    const answers = await Promise.allSettled(texts.map((text) => checkCsvUpload(text, options)));
    settled = true;
    expect(most).toBe(CSV_PARSE_THREADS);
    expect(parseThreadsInUse()).toBe(0);
    expect(answers.map((a) => (a.status === 'fulfilled' ? a.value.sizes.train + a.value.sizes.validation + a.value.sizes.test : (a.reason as DatasetError).code))).toEqual([40_000, 41_000, 'CSV_NON_NUMERIC', 43_000]);
  });

  it('refuses a text whose parse outgrows the thread\'s heap as CSV_TOO_LARGE, and the process lives on', async () => {
    // About 20 MB of text: the parse builds typed arrays outside the heap, the text is inside it.
    const text = table(1_500_000);
    const error = await checkCsvUpload(text, options, { heapMb: 16 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DatasetError);
    expect(error).toMatchObject({ code: 'CSV_TOO_LARGE', message: expect.stringMatching(/^parsing this CSV needs more than 16 MB of memory/) });
    // The next parse gets a thread.
    expect((await checkCsvUpload(table(40_000), options)).featureShape).toEqual([2]);
  });

  it('ends a parse whose caller went away: a queued one leaves the line at once, a running one loses its thread', async () => {
    const running = new AbortController();
    const queued = new AbortController();
    const first = checkCsvUpload(table(400_000), options, { signal: running.signal });
    const second = checkCsvUpload(table(40_000), options, { signal: queued.signal });
    const third = checkCsvUpload(table(41_000), options);
    const outcome = (p: Promise<unknown>) => p.then(() => 'answered', (e: unknown) => (e instanceof Error ? e.message : String(e)));
    const firstOutcome = outcome(first);
    queued.abort(new Error('second gone'));
    // Dropped from the line before the first parse ends.
    expect(await Promise.race([outcome(second), firstOutcome.then(() => 'first ended')])).toBe('second gone');
    // The first holds the one slot from its call on; the third waits in line.
    expect(parseThreadsInUse()).toBe(1);
    running.abort(new Error('first gone'));
    expect(await firstOutcome).toBe('first gone');
    // The slot went to the third, which parses and answers.
    expect((await third).sizes.train + (await third).sizes.validation + (await third).sizes.test).toBe(41_000);
    expect(parseThreadsInUse()).toBe(0);
    await expect(checkCsvUpload(table(40_000), options, { signal: AbortSignal.abort(new Error('never')) })).rejects.toThrow('never');
  });
});
