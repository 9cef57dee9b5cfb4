-- AlterTable
ALTER TABLE "datasets" ADD COLUMN     "data" BYTEA;

-- AlterTable
ALTER TABLE "sweeps" ADD COLUMN     "error" TEXT,
ADD COLUMN     "event_seq" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "trials" ADD COLUMN     "reason" TEXT;

-- CreateTable
CREATE TABLE "sweep_events" (
    "sweep_id" UUID NOT NULL,
    "seq" INTEGER NOT NULL,
    "type" TEXT NOT NULL,
    "data" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sweep_events_pkey" PRIMARY KEY ("sweep_id","seq")
);

-- AddForeignKey
ALTER TABLE "sweep_events" ADD CONSTRAINT "sweep_events_sweep_id_fkey" FOREIGN KEY ("sweep_id") REFERENCES "sweeps"("id") ON DELETE CASCADE ON UPDATE CASCADE;
