-- AlterTable
ALTER TABLE "DeletionAudit" ADD COLUMN "scope" JSONB;

-- CreateIndex
CREATE INDEX "DeletionAudit_outcome_at_idx" ON "DeletionAudit"("outcome", "at");

