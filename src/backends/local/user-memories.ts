import { randomUUID } from 'node:crypto';
import { notFound } from '../../errors.js';
import type { PrismaClient, UserMemory } from '../../generated/prisma/client.js';
import { afterTimeKey, decodeCursor, encodeCursor, isTimeKey, toConnection } from '../cursor.js';
import type { UserMemoryDTO, UserMemoryStore } from '../types.js';
import { newestPerUser, pagesPerUser } from './newest-per-user.js';

const CURSOR = 'local:userMemories';

function toDTO(row: UserMemory): UserMemoryDTO {
  return {
    id: row.id,
    content: row.content,
    userId: row.userId,
    agentId: row.agentId,
    userPrompt: row.userPrompt,
    context: (row.context ?? []) as unknown as string[],
    subTenantId: row.subTenantId,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    backend: 'local',
  };
}

const cursorOf = (m: UserMemoryDTO) => encodeCursor(CURSOR, { t: m.createdAt!.toISOString(), id: m.id });

export function localUserMemoryStore(prisma: PrismaClient, tenantId: string): UserMemoryStore {
  return {
    backend: 'local',

    async list({ first, after, userId, agentId, subTenantId }) {
      const key = after ? decodeCursor(CURSOR, after, isTimeKey) : undefined;
      const rows = await prisma.userMemory.findMany({
        where: {
          tenantId,
          ...(userId != null && { userId }),
          ...(agentId != null && { agentId }),
          ...(subTenantId != null && { subTenantId }),
          ...afterTimeKey(key),
        },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: first + 1,
      });
      return toConnection(rows.map(toDTO), first, cursorOf);
    },

    async listForUsers(userIds, { first, after }) {
      const key = after ? decodeCursor(CURSOR, after, isTimeKey) : undefined;
      const rows = await newestPerUser<UserMemory>(prisma, 'UserMemory', { tenantId, userIds, take: first + 1, after: key });
      return pagesPerUser(userIds, rows.map(toDTO), (m) => m.userId!, first, cursorOf);
    },

    async add(input) {
      const row = await prisma.userMemory.create({
        data: { id: randomUUID(), tenantId, ...input, context: input.context as never },
      });
      return toDTO(row);
    },

    async delete(userMemoryId, { subTenantId, ownerUserId }) {
      const { count } = await prisma.userMemory.deleteMany({
        where: {
          tenantId,
          id: userMemoryId,
          ...(subTenantId != null && { subTenantId }),
          ...(ownerUserId != null && { userId: ownerUserId }),
        },
      });
      if (count === 0) throw notFound(`User memory ${userMemoryId}`);
    },
  };
}
