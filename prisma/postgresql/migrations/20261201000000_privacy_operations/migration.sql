-- CreateTable
CREATE TABLE "ForgetJob" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "dryRun" BOOLEAN NOT NULL,
    "status" TEXT NOT NULL,
    "activeKey" TEXT,
    "requestId" TEXT NOT NULL,
    "requestedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finishedAt" TIMESTAMPTZ(3),
    "parts" JSON NOT NULL,
    "signedPayload" TEXT,
    "signature" TEXT,
    "leaseOwner" TEXT,
    "leaseUntil" TIMESTAMPTZ(3),
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ForgetJob_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ForgetItem" (
    "jobId" TEXT NOT NULL,
    "family" TEXT NOT NULL,
    "itemId" TEXT NOT NULL,
    "subTenantId" TEXT,
    "outcome" TEXT,
    "error" TEXT,

    CONSTRAINT "ForgetItem_pkey" PRIMARY KEY ("jobId","family","itemId")
);

-- CreateTable
CREATE TABLE "ReceiptSigningKey" (
    "id" TEXT NOT NULL,
    "keyId" TEXT NOT NULL,
    "privateKey" TEXT NOT NULL,
    "publicKeyPem" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ReceiptSigningKey_pkey" PRIMARY KEY ("id")
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

-- AddForeignKey
ALTER TABLE "ForgetItem" ADD CONSTRAINT "ForgetItem_jobId_fkey" FOREIGN KEY ("jobId") REFERENCES "ForgetJob"("id") ON DELETE CASCADE ON UPDATE CASCADE;

