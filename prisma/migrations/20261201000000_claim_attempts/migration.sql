-- Fenced writes: the attempt of the trial claim under which each metric, checkpoint and event was
-- written (null for rows written without a claim, and for rows older than this migration).

-- AlterTable
ALTER TABLE "checkpoints" ADD COLUMN     "attempt" INTEGER;

-- AlterTable
ALTER TABLE "metrics" ADD COLUMN     "attempt" INTEGER;

-- AlterTable
ALTER TABLE "sweep_events" ADD COLUMN     "attempt" INTEGER;
