-- CreateTable
CREATE TABLE "ForgetJob" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "dryRun" BOOLEAN NOT NULL,
    "status" TEXT NOT NULL,
    "activeKey" TEXT,
    "requestId" TEXT NOT NULL,
    "requestedAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" DATETIME,
    "parts" JSONB NOT NULL,
    "signedPayload" TEXT,
    "signature" TEXT,
    "leaseOwner" TEXT,
    "leaseUntil" DATETIME,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "ForgetItem" (
    "jobId" TEXT NOT NULL,
    "family" TEXT NOT NULL,
    "itemId" TEXT NOT NULL,
    "subTenantId" TEXT,
    "outcome" TEXT,
    "error" TEXT,

    PRIMARY KEY ("jobId", "family", "itemId"),
    CONSTRAINT "ForgetItem_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "ForgetJob" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "ReceiptSigningKey" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "keyId" TEXT NOT NULL,
    "privateKey" TEXT NOT NULL,
    "publicKeyPem" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- CreateIndex
CREATE UNIQUE INDEX "ForgetJob_activeKey_key" ON "ForgetJob"("activeKey");

-- CreateIndex
CREATE INDEX "ForgetJob_tenantId_requestedAt_id_idx" ON "ForgetJob"("tenantId", "requestedAt", "id");

-- CreateIndex
CREATE INDEX "ForgetJob_tenantId_userId_requestedAt_id_idx" ON "ForgetJob"("tenantId", "userId", "requestedAt", "id");

-- CreateIndex
CREATE INDEX "ForgetJob_status_leaseUntil_idx" ON "ForgetJob"("status", "leaseUntil");

-- CreateIndex
CREATE INDEX "ForgetItem_jobId_family_outcome_idx" ON "ForgetItem"("jobId", "family", "outcome");

