-- AlterTable
ALTER TABLE "trials" ADD COLUMN     "last_metrics" JSONB NOT NULL DEFAULT '{}';

-- Backfill: each metric's value at its latest step, as recordEpochs keeps it from now on.
UPDATE "trials" t SET "last_metrics" = x.m
FROM (
  SELECT trial_id, jsonb_object_agg(name, value) AS m
  FROM (SELECT DISTINCT ON (trial_id, name) trial_id, name, value FROM "metrics" ORDER BY trial_id, name, step DESC) d
  GROUP BY trial_id
) x
WHERE x.trial_id = t.id;
