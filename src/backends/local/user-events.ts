import { randomUUID } from 'node:crypto';
import { notFound } from '../../errors.js';
import type { PrismaClient, UserEvent } from '../../generated/prisma/client.js';
import { afterTimeKey, decodeCursor, encodeCursor, isTimeKey, toConnection } from '../cursor.js';
import type { EventTagDTO, ProfileDeltaDTO, UserEventDTO, UserEventStore } from '../types.js';
import { newestPerUser, pagesPerUser } from './newest-per-user.js';

const CURSOR = 'local:userEvents';

function toDTO(row: UserEvent): UserEventDTO {
  return {
    id: row.id,
    userId: row.userId,
    eventTip: row.eventTip,
    eventTags: (row.eventTags ?? []) as unknown as EventTagDTO[],
    profileDelta: (row.profileDelta ?? []) as unknown as ProfileDeltaDTO[],
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    backend: 'local',
  };
}

const cursorOf = (e: UserEventDTO) => encodeCursor(CURSOR, { t: e.createdAt.toISOString(), id: e.id });

export function localUserEventStore(prisma: PrismaClient, tenantId: string): UserEventStore {
  return {
    backend: 'local',

    async list({ userId, first, after }) {
      const key = after ? decodeCursor(CURSOR, after, isTimeKey) : undefined;
      const rows = await prisma.userEvent.findMany({
        where: { tenantId, userId, ...afterTimeKey(key) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: first + 1,
      });
      return toConnection(rows.map(toDTO), first, cursorOf);
    },

    async listForUsers(userIds, { first, after }) {
      const key = after ? decodeCursor(CURSOR, after, isTimeKey) : undefined;
      const rows = await newestPerUser<UserEvent>(prisma, 'UserEvent', { tenantId, userIds, take: first + 1, after: key });
      return pagesPerUser(userIds, rows.map(toDTO), (e) => e.userId, first, cursorOf);
    },

    async create(userId, input) {
      const row = await prisma.userEvent.create({
        data: {
          id: randomUUID(),
          tenantId,
          userId,
          eventTip: input.eventTip,
          eventTags: input.eventTags as never,
          profileDelta: input.profileDelta as never,
        },
      });
      return toDTO(row);
    },

    async delete(userId, eventId) {
      const { count } = await prisma.userEvent.deleteMany({ where: { tenantId, userId, id: eventId } });
      if (count === 0) throw notFound(`User event ${eventId}`);
    },
  };
}
