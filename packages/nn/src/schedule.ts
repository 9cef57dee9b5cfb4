// Learning rate as a pure function of the global step, so every replica and every resume agrees.
import type { ScheduleSpec } from './spec.ts';

/**
 * @param step global optimizer step (0-based) of the update about to be applied
 * @param stepsPerEpoch optimizer steps in one epoch
 * @param totalEpochs epochs the run is planned for (cosine decays over them)
 */
export function learningRateAt(
  schedule: ScheduleSpec,
  baseLr: number,
  step: number,
  stepsPerEpoch: number,
  totalEpochs: number,
): number {
  const epoch = step / stepsPerEpoch;
  let lr: number;
  switch (schedule.type) {
    case 'constant':
      lr = baseLr;
      break;
    case 'step':
      lr = baseLr * Math.pow(schedule.gamma, Math.floor(epoch / schedule.stepEpochs));
      break;
    case 'exponential':
      lr = baseLr * Math.pow(schedule.gamma, epoch);
      break;
    case 'cosine': {
      const span = Math.max(totalEpochs - schedule.warmupEpochs, 1e-12);
      const t = Math.min(Math.max((epoch - schedule.warmupEpochs) / span, 0), 1);
      lr = schedule.minLearningRate + 0.5 * (baseLr - schedule.minLearningRate) * (1 + Math.cos(Math.PI * t));
      break;
    }
  }
  if (schedule.warmupEpochs > 0 && epoch < schedule.warmupEpochs) {
    // Linear warm-up reaches the scheduled rate at the end of the warm-up; the first step is not
    // zero. Capped: a warm-up of a fractional number of steps (0.5 epoch of 3 steps) would overshoot.
    lr *= Math.min(1, (step + 1) / (schedule.warmupEpochs * stepsPerEpoch));
  }
  return lr;
}
