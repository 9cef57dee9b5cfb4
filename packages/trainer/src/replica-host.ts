// A replica thread's side of the protocol: instantiates the kernels on the shared memory, then
// runs nn's ReplicaWork for whole epochs and evaluations on command, synchronising with its peers
// through the control block only.
import type { MessagePort } from 'node:worker_threads';
import { ReplicaWork, WasmKernels, type Kernels, type ReplicaControl } from '@hypersweep/nn';
import { ABORT, AbortedByPeer, barrier, raiseAbort, WORD } from './control.ts';
import type { FromReplica, ToReplica } from './protocol.ts';

/** Extension points for tools around the production thread (fault injection in tests). */
export interface ReplicaHooks {
  /** Called before every training step, after the abort check. */
  beforeStep?(rank: number, epoch: number, step: number): void;
}

/** Serves the pool's commands on `port` until the thread ends. */
export function serveReplica(port: MessagePort, hooks: ReplicaHooks = {}): void {
  let rank = -1;
  let memory: WebAssembly.Memory | undefined;
  let kernels: Kernels | undefined;
  let work: ReplicaWork | undefined;
  let words: Int32Array | undefined;

  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`replica ${rank}: ${what} before init/plan`);
    return v;
  };

  const control = (w: Int32Array, spin: number, timeoutMs: number, parties: number): ReplicaControl => ({
    sync: () => barrier(w, parties, spin, timeoutMs),
    beforeStep: (epoch, step) => {
      const reason = Atomics.load(w, WORD.abort);
      if (reason !== ABORT.none) throw new AbortedByPeer(reason);
      if (epoch >= 0) hooks.beforeStep?.(rank, epoch, step);
    },
    progress: (done) => Atomics.store(w, WORD.progress, done),
  });

  port.on('message', (msg: ToReplica) => {
    try {
      switch (msg.type) {
        case 'init':
          rank = msg.rank;
          memory = msg.memory;
          kernels = new WasmKernels(msg.module, msg.memory);
          break;
        case 'plan': {
          const mem = need(memory, 'plan');
          // Views are made per run: the pool may have grown the memory in between.
          words = new Int32Array(mem.buffer, 0, 64);
          work = new ReplicaWork(need(kernels, 'plan'), mem, msg.plan, rank);
          break;
        }
        case 'epoch': {
          const w = need(work, 'epoch');
          w.epoch(msg.epoch, msg.stepBase, msg.steps, control(need(words, 'epoch'), w.plan.spin, w.plan.stepTimeoutMs, w.plan.threads));
          break;
        }
        case 'evaluate': {
          const w = need(work, 'evaluate');
          w.evaluate(msg.split, control(need(words, 'evaluate'), w.plan.spin, w.plan.stepTimeoutMs, w.plan.threads));
          break;
        }
      }
      port.postMessage({ type: 'done', id: msg.id, rank } satisfies FromReplica);
    } catch (e) {
      if (e instanceof AbortedByPeer) {
        port.postMessage({ type: 'aborted', id: msg.id, rank, reason: e.reason } satisfies FromReplica);
        return;
      }
      // Release the peers first, then report.
      if (words) raiseAbort(words, ABORT.replicaError);
      const err = e as Error & { code?: string; details?: unknown };
      port.postMessage({
        type: 'error',
        id: msg.id,
        rank,
        message: err.message ?? String(e),
        ...(err.stack ? { stack: err.stack } : {}),
        ...(err.code ? { code: err.code } : {}),
        ...(err.details !== undefined ? { details: err.details } : {}),
      } satisfies FromReplica);
    }
  });
}
