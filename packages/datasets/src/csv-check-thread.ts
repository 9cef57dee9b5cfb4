// The CSV parse thread's entry (bundled to dist/csv-check-thread.mjs): parses one text and posts
// its summary or its dataset (the arrays' buffers moved), or its refusal.
import { parentPort, workerData } from 'node:worker_threads';
import { parseCsvAnswer, summarizeCsv, type CsvThreadRequest } from './csv-check.ts';

if (!parentPort) throw new Error('csv-check-thread.ts runs inside a worker thread');
const { text, options, want } = workerData as CsvThreadRequest;
if (want === 'summary') {
  parentPort.postMessage(summarizeCsv(text, options));
} else {
  const answer = parseCsvAnswer(text, options);
  const buffers = new Set<ArrayBuffer>();
  if ('dataset' in answer) {
    for (const split of [answer.dataset.train, answer.dataset.validation, answer.dataset.test]) {
      for (const array of [split.features, split.labels]) if (array.buffer instanceof ArrayBuffer) buffers.add(array.buffer);
    }
  }
  parentPort.postMessage(answer, [...buffers]);
}
