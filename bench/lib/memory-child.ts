// One measurement of the memory benchmark, in its own process: MNIST in shared memory, T
// replica threads, one epoch of MLP 784-512-512-10; prints the process RSS and the plan sizes.
import { loadDataset } from '@hypersweep/datasets';
import { Arena, compileModel, planActivations } from '@hypersweep/nn';
import { ReplicaPool } from '@hypersweep/trainer';

export const MEMORY_MODEL = {
  inputShape: [28, 28],
  layers: [
    { type: 'flatten' },
    { type: 'dense', units: 512, activation: 'relu' },
    { type: 'dropout', rate: 0.2 },
    { type: 'dense', units: 512, activation: 'relu' },
    { type: 'dropout', rate: 0.2 },
    { type: 'dense', units: 10 },
  ],
  loss: 'softmax_cross_entropy',
};
const BATCH = 256;
const MICROBATCHES = 4;

const threads = Number(process.argv[2]);
const ds = await loadDataset('mnist', { seed: 1 });
const pool = await ReplicaPool.create({ threads });
await pool.train({ model: MEMORY_MODEL, optimizer: { type: 'adam' }, dataset: ds, epochs: 1, batchSize: BATCH, microbatches: MICROBATCHES, seed: 1 });
const rss = process.memoryUsage().rss;
const compiled = compileModel(MEMORY_MODEL);
const arena = new Arena(0);
planActivations(arena, compiled, Math.ceil(BATCH / MICROBATCHES));
const out = { rss, activationBytes: arena.size, gradientBytes: compiled.paramCount * 4, sharedBytes: pool.stats.memoryBytes };
await pool.close();
console.log(JSON.stringify(out));
