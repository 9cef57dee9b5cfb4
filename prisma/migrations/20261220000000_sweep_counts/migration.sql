-- Each sweep keeps its trials' count per status and the sum of their epochs_done, maintained by triggers
-- on "trials": every writer (worker, API, reconciler, ask/tell, plain SQL) is covered without code, and a
-- sweep's summary reads one row instead of grouping its trials.
--
-- The triggers are per statement, with transition tables: a bulk change (cancelling every queued trial of
-- a sweep) writes each sweep it touches once, and a change that moves no count (last_metrics, worker_id)
-- writes none. epochs_done is double precision: exact for integer sums below 2^53 (a trial's epochs are
-- steps, up to 1e6 for ask/tell), never overflowing into a failed trial write, and a plain number in the
-- client (a BIGINT would make every Sweep row carry a JS bigint).

-- AlterTable
ALTER TABLE "sweeps" ADD COLUMN     "trials_queued" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "trials_running" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "trials_completed" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "trials_stopped" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "trials_failed" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "trials_cancelled" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "epochs_done" DOUBLE PRECISION NOT NULL DEFAULT 0;

-- Adds signed per-trial deltas (n = +1 for a row as it now is, -1 for a row as it was) to their sweeps.
CREATE FUNCTION "sweeps_add_trial_deltas"(sweep_ids UUID[], statuses "TrialStatus"[], ns INTEGER[], epochs DOUBLE PRECISION[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF cardinality(sweep_ids) IS NULL OR cardinality(sweep_ids) = 0 THEN
    RETURN;
  END IF;
  -- Sweep rows in id order: two statements that touch the same sweeps cannot deadlock on them.
  PERFORM 1 FROM "sweeps" WHERE "id" = ANY (sweep_ids) ORDER BY "id" FOR NO KEY UPDATE;
  UPDATE "sweeps" s SET
    "trials_queued" = s."trials_queued" + d.queued,
    "trials_running" = s."trials_running" + d.running,
    "trials_completed" = s."trials_completed" + d.completed,
    "trials_stopped" = s."trials_stopped" + d.stopped,
    "trials_failed" = s."trials_failed" + d.failed,
    "trials_cancelled" = s."trials_cancelled" + d.cancelled,
    "epochs_done" = s."epochs_done" + d.epochs
  FROM (
    SELECT u.sweep_id,
      COALESCE(sum(u.n) FILTER (WHERE u.status = 'queued'), 0) AS queued,
      COALESCE(sum(u.n) FILTER (WHERE u.status = 'running'), 0) AS running,
      COALESCE(sum(u.n) FILTER (WHERE u.status = 'completed'), 0) AS completed,
      COALESCE(sum(u.n) FILTER (WHERE u.status = 'stopped'), 0) AS stopped,
      COALESCE(sum(u.n) FILTER (WHERE u.status = 'failed'), 0) AS failed,
      COALESCE(sum(u.n) FILTER (WHERE u.status = 'cancelled'), 0) AS cancelled,
      sum(u.epochs) AS epochs
    FROM unnest(sweep_ids, statuses, ns, epochs) AS u(sweep_id, status, n, epochs)
    GROUP BY u.sweep_id
  ) d
  WHERE s."id" = d.sweep_id
    AND (d.queued <> 0 OR d.running <> 0 OR d.completed <> 0 OR d.stopped <> 0 OR d.failed <> 0 OR d.cancelled <> 0 OR d.epochs <> 0);
END
$$;

CREATE FUNCTION "trials_count_inserted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "sweeps_add_trial_deltas"(array_agg("sweep_id"), array_agg("status"), array_agg(1), array_agg("epochs_done"::float8))
  FROM new_trials;
  RETURN NULL;
END
$$;

CREATE FUNCTION "trials_count_updated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "sweeps_add_trial_deltas"(array_agg(c.sweep_id), array_agg(c.status), array_agg(c.n), array_agg(c.epochs))
  FROM (
    SELECT "sweep_id", "status", 1 AS n, "epochs_done"::float8 AS epochs FROM new_trials
    UNION ALL
    SELECT "sweep_id", "status", -1, -"epochs_done"::float8 FROM old_trials
  ) c;
  RETURN NULL;
END
$$;

CREATE FUNCTION "trials_count_deleted"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "sweeps_add_trial_deltas"(array_agg("sweep_id"), array_agg("status"), array_agg(-1), array_agg(-"epochs_done"::float8))
  FROM old_trials;
  RETURN NULL;
END
$$;

CREATE FUNCTION "trials_count_truncated"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE "sweeps" SET "trials_queued" = 0, "trials_running" = 0, "trials_completed" = 0, "trials_stopped" = 0,
    "trials_failed" = 0, "trials_cancelled" = 0, "epochs_done" = 0;
  RETURN NULL;
END
$$;

CREATE TRIGGER "trials_count_insert" AFTER INSERT ON "trials"
  REFERENCING NEW TABLE AS new_trials FOR EACH STATEMENT EXECUTE FUNCTION "trials_count_inserted"();
CREATE TRIGGER "trials_count_update" AFTER UPDATE ON "trials"
  REFERENCING OLD TABLE AS old_trials NEW TABLE AS new_trials FOR EACH STATEMENT EXECUTE FUNCTION "trials_count_updated"();
CREATE TRIGGER "trials_count_delete" AFTER DELETE ON "trials"
  REFERENCING OLD TABLE AS old_trials FOR EACH STATEMENT EXECUTE FUNCTION "trials_count_deleted"();
CREATE TRIGGER "trials_count_truncate" AFTER TRUNCATE ON "trials"
  FOR EACH STATEMENT EXECUTE FUNCTION "trials_count_truncated"();

-- Backfill, with trial writes held off (the triggers exist already, and this migration is one
-- transaction): no write can fall between the counted snapshot and the triggers.
LOCK TABLE "trials" IN SHARE MODE;
UPDATE "sweeps" s SET
  "trials_queued" = c.queued,
  "trials_running" = c.running,
  "trials_completed" = c.completed,
  "trials_stopped" = c.stopped,
  "trials_failed" = c.failed,
  "trials_cancelled" = c.cancelled,
  "epochs_done" = c.epochs
FROM (
  SELECT "sweep_id",
    count(*) FILTER (WHERE "status" = 'queued') AS queued,
    count(*) FILTER (WHERE "status" = 'running') AS running,
    count(*) FILTER (WHERE "status" = 'completed') AS completed,
    count(*) FILTER (WHERE "status" = 'stopped') AS stopped,
    count(*) FILTER (WHERE "status" = 'failed') AS failed,
    count(*) FILTER (WHERE "status" = 'cancelled') AS cancelled,
    COALESCE(sum("epochs_done"), 0)::float8 AS epochs
  FROM "trials"
  GROUP BY "sweep_id"
) c
WHERE s."id" = c."sweep_id";
