-- CreateTable
CREATE TABLE "Tenant" (
    "id" TEXT NOT NULL,
    "userEventsBackend" TEXT,
    "userMemoriesBackend" TEXT,
    "memoriesBackend" TEXT,
    "sealedSettings" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Tenant_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiKey" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "secretHash" TEXT NOT NULL,
    "label" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revokedAt" TIMESTAMPTZ(3),

    CONSTRAINT "ApiKey_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "UserEvent" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "eventTip" TEXT,
    "eventTags" JSON NOT NULL,
    "profileDelta" JSON NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "UserEvent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "UserMemory" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "userId" TEXT,
    "agentId" TEXT,
    "userPrompt" TEXT,
    "context" JSON NOT NULL,
    "subTenantId" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "UserMemory_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Memory" (
    "id" TEXT NOT NULL,
    "tenantId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "workspaceId" TEXT,
    "memory" TEXT NOT NULL,
    "topics" JSON NOT NULL,
    "metadata" JSON,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Memory_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "DeletionAudit" (
    "id" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "tenantId" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "operation" TEXT NOT NULL,
    "backend" TEXT NOT NULL,
    "targetId" TEXT NOT NULL,
    "userId" TEXT,
    "outcome" TEXT NOT NULL,
    "requestId" TEXT NOT NULL,

    CONSTRAINT "DeletionAudit_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ApiKey_tenantId_idx" ON "ApiKey"("tenantId");

-- CreateIndex
CREATE INDEX "UserEvent_tenantId_userId_createdAt_id_idx" ON "UserEvent"("tenantId", "userId", "createdAt", "id");

-- CreateIndex
CREATE INDEX "UserMemory_tenantId_createdAt_id_idx" ON "UserMemory"("tenantId", "createdAt", "id");

-- CreateIndex
CREATE INDEX "UserMemory_tenantId_userId_createdAt_id_idx" ON "UserMemory"("tenantId", "userId", "createdAt", "id");

-- CreateIndex
CREATE INDEX "Memory_tenantId_createdAt_id_idx" ON "Memory"("tenantId", "createdAt", "id");

-- CreateIndex
CREATE INDEX "Memory_tenantId_userId_createdAt_id_idx" ON "Memory"("tenantId", "userId", "createdAt", "id");

-- CreateIndex
CREATE INDEX "DeletionAudit_tenantId_at_id_idx" ON "DeletionAudit"("tenantId", "at", "id");

-- CreateIndex
CREATE INDEX "DeletionAudit_tenantId_userId_at_id_idx" ON "DeletionAudit"("tenantId", "userId", "at", "id");

-- AddForeignKey
ALTER TABLE "ApiKey" ADD CONSTRAINT "ApiKey_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE CASCADE ON UPDATE CASCADE;

