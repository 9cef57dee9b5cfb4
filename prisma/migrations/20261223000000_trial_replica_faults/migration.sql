-- Attempts a trial lost to replica faults (a thread that died or stalled): it is retried from its
-- checkpoint until REPLICA_FAULT_ATTEMPTS, counted apart from claims (shutdowns, takeovers).
ALTER TABLE "trials" ADD COLUMN "replica_faults" INTEGER NOT NULL DEFAULT 0;
