// Messages between the pool (main thread) and a replica thread: one request per run, epoch or
// evaluation — never per step — each answered once with the same id.
import type { RunPlan, SplitName } from '@hypersweep/nn';

export type ToReplica =
  | { type: 'init'; id: number; rank: number; module: WebAssembly.Module; memory: WebAssembly.Memory }
  | { type: 'plan'; id: number; plan: RunPlan }
  | {
      type: 'epoch';
      id: number;
      /** 0-based epoch. */
      epoch: number;
      /** Global optimizer steps completed before this epoch. */
      stepBase: number;
      steps: number;
    }
  | { type: 'evaluate'; id: number; split: SplitName };

export type FromReplica =
  | { type: 'done'; id: number; rank: number }
  | { type: 'error'; id: number; rank: number; message: string; stack?: string; code?: string; details?: unknown }
  | { type: 'aborted'; id: number; rank: number; reason: number };
