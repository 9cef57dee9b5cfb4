-- CreateEnum
CREATE TYPE "DatasetKind" AS ENUM ('builtin', 'csv');

-- CreateEnum
CREATE TYPE "ObjectiveMode" AS ENUM ('minimize', 'maximize');

-- CreateEnum
CREATE TYPE "SweepStatus" AS ENUM ('pending', 'running', 'completed', 'cancelled', 'failed');

-- CreateEnum
CREATE TYPE "TrialStatus" AS ENUM ('queued', 'running', 'completed', 'stopped', 'failed', 'cancelled');

-- CreateTable
CREATE TABLE "api_tokens" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "datasets" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "kind" "DatasetKind" NOT NULL,
    "spec" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "datasets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "sweeps" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "spec" JSONB NOT NULL,
    "status" "SweepStatus" NOT NULL DEFAULT 'pending',
    "seed" INTEGER NOT NULL,
    "objective_metric" TEXT NOT NULL,
    "objective_mode" "ObjectiveMode" NOT NULL,
    "budget" JSONB NOT NULL,
    "best_trial_id" UUID,
    "test_result" JSONB,
    "idempotency_key" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "sweeps_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "trials" (
    "id" UUID NOT NULL,
    "sweep_id" UUID NOT NULL,
    "number" INTEGER NOT NULL,
    "params" JSONB NOT NULL,
    "cell_key" TEXT,
    "status" "TrialStatus" NOT NULL DEFAULT 'queued',
    "attempt" INTEGER NOT NULL DEFAULT 0,
    "worker_id" TEXT,
    "epochs_done" INTEGER NOT NULL DEFAULT 0,
    "best_value" DOUBLE PRECISION,
    "final_value" DOUBLE PRECISION,
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "trials_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "metrics" (
    "id" BIGSERIAL NOT NULL,
    "trial_id" UUID NOT NULL,
    "step" INTEGER NOT NULL,
    "name" TEXT NOT NULL,
    "value" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "metrics_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "checkpoints" (
    "id" BIGSERIAL NOT NULL,
    "trial_id" UUID NOT NULL,
    "epoch" INTEGER NOT NULL,
    "manifest" JSONB NOT NULL,
    "data" BYTEA NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "checkpoints_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens"("token_hash");

-- CreateIndex
CREATE UNIQUE INDEX "datasets_name_key" ON "datasets"("name");

-- CreateIndex
CREATE UNIQUE INDEX "sweeps_idempotency_key_key" ON "sweeps"("idempotency_key");

-- CreateIndex
CREATE INDEX "sweeps_status_created_at_idx" ON "sweeps"("status", "created_at");

-- CreateIndex
CREATE INDEX "sweeps_created_at_id_idx" ON "sweeps"("created_at", "id");

-- CreateIndex
CREATE INDEX "trials_sweep_id_status_number_idx" ON "trials"("sweep_id", "status", "number");

-- CreateIndex
CREATE INDEX "trials_sweep_id_best_value_idx" ON "trials"("sweep_id", "best_value");

-- CreateIndex
CREATE INDEX "trials_status_idx" ON "trials"("status");

-- CreateIndex
CREATE UNIQUE INDEX "trials_sweep_id_number_key" ON "trials"("sweep_id", "number");

-- CreateIndex
CREATE UNIQUE INDEX "trials_sweep_id_cell_key_key" ON "trials"("sweep_id", "cell_key");

-- CreateIndex
CREATE UNIQUE INDEX "metrics_trial_id_name_step_key" ON "metrics"("trial_id", "name", "step");

-- CreateIndex
CREATE UNIQUE INDEX "checkpoints_trial_id_epoch_key" ON "checkpoints"("trial_id", "epoch");

-- AddForeignKey
ALTER TABLE "trials" ADD CONSTRAINT "trials_sweep_id_fkey" FOREIGN KEY ("sweep_id") REFERENCES "sweeps"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "metrics" ADD CONSTRAINT "metrics_trial_id_fkey" FOREIGN KEY ("trial_id") REFERENCES "trials"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "checkpoints" ADD CONSTRAINT "checkpoints_trial_id_fkey" FOREIGN KEY ("trial_id") REFERENCES "trials"("id") ON DELETE CASCADE ON UPDATE CASCADE;
