// Messages between the pool (main thread) and a replica thread: one request per trial, epoch or
// evaluation — never per step — each answered once with the same id.
import type { TrialPlan } from './plan.ts';

export type ToReplica =
  | { type: 'init'; id: number; rank: number; module: WebAssembly.Module; memory: WebAssembly.Memory }
  | { type: 'plan'; id: number; plan: TrialPlan }
  | {
      type: 'epoch';
      id: number;
      /** 0-based epoch. */
      epoch: number;
      /** Global optimizer steps completed before this epoch. */
      stepBase: number;
      steps: number;
    }
  | { type: 'evaluate'; id: number; split: 'validation' | 'test' | 'train' }
  /** Benchmark: repeated reduce-scatter + optimizer update rounds on the planned trial. */
  | { type: 'reduce-bench'; id: number; iterations: number }
  /** Test hook (fault injection): throw, or stall without checking the abort word, at step `step` of the next epoch. */
  | { type: 'fault'; id: number; step: number; fault: ReplicaFault };

export type ReplicaFault = { kind: 'throw'; message: string } | { kind: 'stall'; ms: number };

export type FromReplica =
  | { type: 'done'; id: number; rank: number }
  | { type: 'error'; id: number; rank: number; message: string; stack?: string; code?: string; details?: unknown }
  | { type: 'aborted'; id: number; rank: number; reason: number };
