// One measurement of the memory benchmark, in its own process: MNIST in shared memory, T
// replica threads, one epoch of MLP 784-512-512-10; prints the process RSS and the plan sizes.
import { loadDataset } from '@hypersweep/datasets';
import { Arena, compileModel, planActivations } from '@hypersweep/nn';
import { ReplicaPool } from '@hypersweep/trainer';
import { MNIST_MLP } from './models.ts';

const BATCH = 256;
const MICROBATCHES = 4;

const threads = Number(process.argv[2]);
const ds = await loadDataset('mnist', { seed: 1 });
const pool = await ReplicaPool.create({ threads });
await pool.train({ model: MNIST_MLP, optimizer: { type: 'adam' }, dataset: ds, epochs: 1, batchSize: BATCH, microbatches: MICROBATCHES, seed: 1 });
const rss = process.memoryUsage().rss;
const compiled = compileModel(MNIST_MLP);
const arena = new Arena(0);
planActivations(arena, compiled, Math.ceil(BATCH / MICROBATCHES));
const out = { rss, activationBytes: arena.size, gradientBytes: compiled.paramCount * 4, sharedBytes: pool.stats.memoryBytes };
await pool.close();
console.log(JSON.stringify(out));
