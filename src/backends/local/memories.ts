import { randomUUID } from 'node:crypto';
import { notFound } from '../../errors.js';
import type { Memory, PrismaClient } from '../../generated/prisma/client.js';
import { decodeCursor, encodeCursor, isTimeKey, toConnection } from '../cursor.js';
import type { JsonValue, MemoryDTO, MemoryStore } from '../types.js';
import { newestPerUser, newestRows, pagesPerUser } from './newest-per-user.js';

const CURSOR = 'local:memories';

function toDTO(row: Memory): MemoryDTO {
  return {
    id: row.id,
    userId: row.userId,
    memory: row.memory,
    topics: (row.topics ?? []) as unknown as string[],
    metadata: (row.metadata ?? null) as JsonValue | null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    backend: 'local',
  };
}

const cursorOf = (m: MemoryDTO) => encodeCursor(CURSOR, { t: m.createdAt!.toISOString(), id: m.id });

export function localMemoryStore(prisma: PrismaClient, tenantId: string): MemoryStore {
  return {
    backend: 'local',

    async list({ first, after, userId, workspaceId }) {
      const key = after ? decodeCursor(CURSOR, after, isTimeKey) : undefined;
      const rows = await newestRows<Memory>(prisma, 'Memory', { tenantId, equal: { userId, workspaceId }, take: first + 1, after: key });
      return toConnection(rows.map(toDTO), first, cursorOf);
    },

    async listForUsers(userIds, { first, after }) {
      const key = after ? decodeCursor(CURSOR, after, isTimeKey) : undefined;
      const rows = await newestPerUser<Memory>(prisma, 'Memory', { tenantId, userIds, take: first + 1, after: key });
      return pagesPerUser(userIds, rows.map(toDTO), (m) => m.userId, first, cursorOf);
    },

    async create(input, { workspaceId }) {
      const row = await prisma.memory.create({
        data: {
          id: randomUUID(),
          tenantId,
          userId: input.userId,
          workspaceId: workspaceId ?? null,
          memory: input.memory,
          topics: input.topics as never,
          metadata: (input.metadata ?? undefined) as never,
        },
      });
      return toDTO(row);
    },

    async delete(memoryId, { userId, workspaceId }) {
      const { count } = await prisma.memory.deleteMany({
        where: {
          tenantId,
          id: memoryId,
          ...(userId != null && { userId }),
          ...(workspaceId != null && { workspaceId }),
        },
      });
      if (count === 0) throw notFound(`Memory ${memoryId}`);
      return { message: 'Memory deleted successfully' };
    },
  };
}
