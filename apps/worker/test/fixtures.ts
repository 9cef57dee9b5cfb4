// Test fixtures: a tiny spirals sweep, sweeps and trials in Postgres, and a log recorder.
import { createSweep, createTrial, setSweepStatus, type Db } from '@hypersweep/db';
import { CreateSweepRequest, type CreateSweepRequestInput } from '@hypersweep/schemas';
import { createJsonLogger, type Logger } from '@hypersweep/log';

/** A small spirals sweep: an epoch takes a few tens of milliseconds on two threads. */
export function spiralsSweep(edit: (req: CreateSweepRequestInput) => void = () => undefined): CreateSweepRequestInput {
  const req: CreateSweepRequestInput = {
    name: 'worker-test',
    dataset: { type: 'spirals', count: 600, seed: 3 },
    model: {
      inputShape: [2],
      layers: [
        { type: 'dense', units: 16, activation: 'tanh' },
        { type: 'dense', units: 2 },
      ],
      loss: 'softmax_cross_entropy',
    },
    training: { epochs: 3, batchSize: 16, microbatches: 4, optimizer: { type: 'adam', learningRate: 0.01 } },
    search: { space: { learningRate: { type: 'loguniform', low: 1e-4, high: 1e-1 } }, budget: { maxTrials: 10 }, seed: 7 },
    objective: { metric: 'val_loss' },
  };
  edit(req);
  return req;
}

/** Stores a sweep from a request, the way the API would; running unless asked to stay pending. */
export async function storeSweep(db: Db, input: CreateSweepRequestInput, seed = 11, status: 'pending' | 'running' = 'running') {
  const spec = CreateSweepRequest.parse(input);
  const { sweep } = await createSweep(db, {
    name: spec.name,
    spec: JSON.parse(JSON.stringify(spec)),
    seed,
    objective: { metric: spec.objective.metric, mode: spec.objective.mode },
    budget: JSON.parse(JSON.stringify(spec.search.budget)),
  });
  if (status === 'running') await setSweepStatus(db, sweep.id, 'running');
  return sweep;
}

export async function storeTrial(db: Db, sweepId: string, params: Record<string, number | string | boolean>) {
  return createTrial(db, sweepId, { params });
}

export interface LogEntry {
  level: string;
  msg: string;
  [key: string]: unknown;
}

/** A debug-level logger whose entries the test can read. */
export function recordingLogger(): { logger: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const logger = createJsonLogger({ level: 'debug', write: (line) => entries.push(JSON.parse(line) as LogEntry) });
  return { logger, entries };
}
