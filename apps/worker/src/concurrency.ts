// The room a sweep's `maxConcurrentTrials` leaves for trials that have never been claimed. The
// advance enqueues only those; the reconciler re-enqueues only those. One rule, or a reconcile would
// start more trials than an advance allows.
import type { RunnableTrial } from '@hypersweep/db';

type RoomTrial = Pick<RunnableTrial, 'id' | 'status' | 'attempt'>;

/** Queued and never claimed (attempt 0): the only trials that may lack a job by design. */
export const isUnclaimed = (trial: RoomTrial): boolean => trial.status === 'queued' && trial.attempt === 0;

/**
 * The never-claimed trials of one sweep (`trials`, in number order) that may start: lowest numbers
 * first, as many as `limit` leaves room for. Running trials and claimed queued ones (their jobs wait
 * to resume them) take room, and so do never-claimed ones `hasLiveJob` names; those are not admitted
 * again.
 */
export function admitUnclaimed<T extends RoomTrial>(
  trials: readonly T[],
  limit: number,
  hasLiveJob: (trial: T) => boolean = () => false,
): { admitted: T[]; heldBack: T[] } {
  let room = limit - trials.filter((t) => !isUnclaimed(t) || hasLiveJob(t)).length;
  const admitted: T[] = [];
  const heldBack: T[] = [];
  for (const trial of trials) {
    if (!isUnclaimed(trial) || hasLiveJob(trial)) continue;
    if (room > 0) {
      room -= 1;
      admitted.push(trial);
    } else heldBack.push(trial);
  }
  return { admitted, heldBack };
}
