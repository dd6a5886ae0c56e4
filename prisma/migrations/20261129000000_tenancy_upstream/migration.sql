-- AlterTable
ALTER TABLE "Tenant" ADD COLUMN "jwtAudience" TEXT;
ALTER TABLE "Tenant" ADD COLUMN "jwtIssuer" TEXT;
ALTER TABLE "Tenant" ADD COLUMN "jwtJwksUrl" TEXT;

-- AlterTable
ALTER TABLE "DeletionAudit" ADD COLUMN "clientRequestId" TEXT;

-- CreateTable
CREATE TABLE "UpstreamScopeClaim" (
    "scope" TEXT NOT NULL PRIMARY KEY,
    "provider" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "description" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateIndex
CREATE INDEX "UpstreamScopeClaim_tenantId_idx" ON "UpstreamScopeClaim"("tenantId");

