-- AlterTable: each trial keeps the spec it trains (model, training, dataset with its parameters applied).
ALTER TABLE "trials" ADD COLUMN     "resolved" JSONB;
