-- Projects, scoped tokens and quotas. Existing sweeps, datasets and tokens land in the project
-- "default", and existing tokens keep their powers (server admin, and admin of "default").

CREATE TYPE "ProjectRole" AS ENUM ('read', 'submit', 'admin');

CREATE TABLE "projects" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "max_running_trials" INTEGER,
    "max_queued_trials" INTEGER,
    "max_active_sweeps" INTEGER,
    "max_epochs_per_day" INTEGER,
    "max_dataset_bytes" BIGINT,

    CONSTRAINT "projects_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "projects_name_key" ON "projects"("name");

-- The default project's id is fixed: code that names no project (CLI defaults, old clients) uses it.
INSERT INTO "projects" ("id", "name") VALUES ('00000000-0000-4000-8000-000000000001', 'default');

CREATE TABLE "token_grants" (
    "token_id" UUID NOT NULL,
    "project_id" UUID NOT NULL,
    "role" "ProjectRole" NOT NULL,

    CONSTRAINT "token_grants_pkey" PRIMARY KEY ("token_id","project_id")
);
CREATE INDEX "token_grants_project_id_idx" ON "token_grants"("project_id");

CREATE TABLE "project_usage" (
    "project_id" UUID NOT NULL,
    "day" DATE NOT NULL,
    "epochs" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "project_usage_pkey" PRIMARY KEY ("project_id","day")
);

ALTER TABLE "api_tokens" ADD COLUMN "expires_at" TIMESTAMPTZ(3),
ADD COLUMN "server_admin" BOOLEAN NOT NULL DEFAULT false;
UPDATE "api_tokens" SET "server_admin" = true;
INSERT INTO "token_grants" ("token_id", "project_id", "role")
  SELECT "id", '00000000-0000-4000-8000-000000000001', 'admin' FROM "api_tokens";

DROP INDEX "datasets_name_key";
ALTER TABLE "datasets" ADD COLUMN "project_id" UUID NOT NULL DEFAULT '00000000-0000-4000-8000-000000000001';
ALTER TABLE "datasets" ALTER COLUMN "project_id" DROP DEFAULT;
CREATE UNIQUE INDEX "datasets_project_id_name_key" ON "datasets"("project_id", "name");

DROP INDEX "sweeps_idempotency_key_key";
ALTER TABLE "sweeps" ADD COLUMN "project_id" UUID NOT NULL DEFAULT '00000000-0000-4000-8000-000000000001';
ALTER TABLE "sweeps" ALTER COLUMN "project_id" DROP DEFAULT;
CREATE INDEX "sweeps_project_id_status_idx" ON "sweeps"("project_id", "status");
CREATE UNIQUE INDEX "sweeps_project_id_idempotency_key_key" ON "sweeps"("project_id", "idempotency_key");

ALTER TABLE "token_grants" ADD CONSTRAINT "token_grants_token_id_fkey" FOREIGN KEY ("token_id") REFERENCES "api_tokens"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "token_grants" ADD CONSTRAINT "token_grants_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "project_usage" ADD CONSTRAINT "project_usage_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "datasets" ADD CONSTRAINT "datasets_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "sweeps" ADD CONSTRAINT "sweeps_project_id_fkey" FOREIGN KEY ("project_id") REFERENCES "projects"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
