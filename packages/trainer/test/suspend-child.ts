// Trains on 2 replica threads with a 1 s step timeout and prints its progress, for
// suspend.test.ts to stop and continue the whole process (SIGSTOP, SIGCONT) while it runs.
import { ReplicaPool, TrainerError } from '../src/index.ts';
import { mlp, quadrants } from './helpers.ts';

const pool = await ReplicaPool.create({ threads: 2, stepTimeoutMs: 1000 });
const timer = setInterval(() => process.stdout.write(`progress ${pool.progress}\n`), 20);
try {
  const result = await pool.train({
    model: mlp(8),
    optimizer: { type: 'adam', learningRate: 0.01 },
    dataset: quadrants({ count: 8000, side: 8, seed: 5 }),
    epochs: Number(process.argv[2] ?? 40),
    batchSize: 16,
    microbatches: 2,
    seed: 1,
  });
  process.stdout.write(`done ${result.epochsRun}\n`);
} catch (error) {
  process.stdout.write(`failed ${error instanceof TrainerError ? error.code : 'other'}: ${(error as Error).message}\n`);
} finally {
  clearInterval(timer);
  await pool.close();
}
