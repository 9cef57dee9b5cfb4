// A replica thread entry for fault tests: the production replica (serveReplica) with a hook that
// throws or stalls at a given step. Each fault fires once across all threads (a shared armed word),
// so a replacement thread does not repeat it.
import { parentPort, workerData } from 'node:worker_threads';
import { serveReplica } from '../src/replica-host.ts';
import type { FaultThreadData } from './faults.ts';

const data = workerData as FaultThreadData;
const armed = new Int32Array(data.armed);
if (!parentPort) throw new Error('fault-thread.ts runs inside a worker thread');
serveReplica(parentPort, {
  beforeStep(rank, _epoch, step) {
    data.faults.forEach((f, i) => {
      if (f.rank !== rank || f.step !== step || Atomics.compareExchange(armed, i, 1, 0) !== 1) return;
      if (f.kind === 'throw') throw new Error(f.message);
      // A stall that never looks at the abort word, as a replica stuck in a kernel would.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, f.ms);
    });
  },
});
