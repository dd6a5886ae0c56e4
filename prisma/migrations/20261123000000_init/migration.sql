-- CreateTable
CREATE TABLE "Tenant" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userEventsBackend" TEXT,
    "userMemoriesBackend" TEXT,
    "memoriesBackend" TEXT,
    "sealedSettings" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "ApiKey" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "secretHash" TEXT NOT NULL,
    "label" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revokedAt" DATETIME,
    CONSTRAINT "ApiKey_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "UserEvent" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "eventTip" TEXT,
    "eventTags" JSONB NOT NULL,
    "profileDelta" JSONB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "UserMemory" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "content" TEXT NOT NULL,
    "userId" TEXT,
    "agentId" TEXT,
    "userPrompt" TEXT,
    "context" JSONB NOT NULL,
    "subTenantId" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Memory" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tenantId" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "workspaceId" TEXT,
    "memory" TEXT NOT NULL,
    "topics" JSONB NOT NULL,
    "metadata" JSONB,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "DeletionAudit" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "tenantId" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "operation" TEXT NOT NULL,
    "backend" TEXT NOT NULL,
    "targetId" TEXT NOT NULL,
    "userId" TEXT,
    "outcome" TEXT NOT NULL,
    "requestId" TEXT NOT NULL
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

