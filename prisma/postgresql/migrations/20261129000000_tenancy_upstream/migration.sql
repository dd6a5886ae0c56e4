-- AlterTable
ALTER TABLE "Tenant" ADD COLUMN     "jwtAudience" TEXT,
ADD COLUMN     "jwtIssuer" TEXT,
ADD COLUMN     "jwtJwksUrl" TEXT;

-- AlterTable
ALTER TABLE "DeletionAudit" ADD COLUMN     "clientRequestId" TEXT,
ADD COLUMN     "scope" JSON;

-- CreateTable
CREATE TABLE "UpstreamScopeClaim" (
    "scope" TEXT NOT NULL,
    "provider" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "UpstreamScopeClaim_pkey" PRIMARY KEY ("scope")
);

-- CreateIndex
CREATE INDEX "UpstreamScopeClaim_tenantId_idx" ON "UpstreamScopeClaim"("tenantId");

-- CreateIndex
CREATE INDEX "DeletionAudit_outcome_at_idx" ON "DeletionAudit"("outcome", "at");

