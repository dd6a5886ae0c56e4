import { z } from 'zod';
import { audited } from '../../audit.js';
import type { EventTagDTO, ProfileDeltaDTO, UserEventDTO } from '../../backends/types.js';
import { actingUser } from '../authz.js';
import { announceCreated } from '../../events/announce.js';
import { builder } from '../builder.js';
import { cursorArg, optionalLongText, pageSize, parseInput, shortList, shortText, uuidV4OrV5, longText } from '../validate.js';
import { backendField } from './common.js';

const EventTag = builder.objectRef<EventTagDTO>('EventTag').implement({
  description: 'A tag attached to a user event, e.g. `emotion = happy`.',
  fields: (t) => ({
    tag: t.exposeString('tag', { description: 'Tag name.' }),
    value: t.exposeString('value', { description: 'Tag value.' }),
  }),
});

const ProfileDelta = builder.objectRef<ProfileDeltaDTO>('ProfileDelta').implement({
  description: "A change to the user's profile that the event recorded.",
  fields: (t) => ({
    content: t.exposeString('content', { description: 'What was learned about the user.' }),
    topic: t.exposeString('topic', { nullable: true, description: 'Profile topic, e.g. `interest`.' }),
    subTopic: t.exposeString('subTopic', { nullable: true, description: 'Profile sub-topic, e.g. `sports`.' }),
  }),
});

export const UserEvent = builder.objectRef<UserEventDTO>('UserEvent').implement({
  description: 'Something that happened in a conversation with a user, as Memobase records it.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Event id (UUID v4 or v5).' }),
    userId: t.exposeID('userId', { description: 'The user the event belongs to (UUID v4 or v5).' }),
    eventTip: t.exposeString('eventTip', { nullable: true, description: 'Short summary of the event.' }),
    eventTags: t.field({ type: [EventTag], resolve: (e) => e.eventTags, description: 'Tags of the event.' }),
    profileDelta: t.field({ type: [ProfileDelta], resolve: (e) => e.profileDelta, description: 'Profile changes the event recorded.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the event was recorded.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the event last changed.' }),
    backend: t.field({ ...backendField, resolve: (e) => e.backend }),
  }),
});

export const UserEventConnection = builder.connectionObject({
  type: UserEvent,
  name: 'UserEventConnection',
  description: "A page of a user's events, newest first.",
}, { name: 'UserEventEdge', description: 'A user event and its cursor.' });

const EventTagInput = builder.inputType('EventTagInput', {
  description: 'A tag for a new user event.',
  fields: (t) => ({
    tag: t.string({ required: true, description: 'Tag name.' }),
    value: t.string({ required: true, description: 'Tag value.' }),
  }),
});

const ProfileDeltaInput = builder.inputType('ProfileDeltaInput', {
  description: 'A profile change for a new user event.',
  fields: (t) => ({
    content: t.string({ required: true, description: 'What was learned about the user.' }),
    topic: t.string({ description: 'Profile topic.' }),
    subTopic: t.string({ description: 'Profile sub-topic.' }),
  }),
});

const CreateUserEventInput = builder.inputType('CreateUserEventInput', {
  description: 'A user event to record.',
  fields: (t) => ({
    eventTip: t.string({ description: 'Short summary of the event.' }),
    eventTags: t.field({ type: [EventTagInput], description: 'Tags of the event.' }),
    profileDelta: t.field({ type: [ProfileDeltaInput], description: 'Profile changes the event records.' }),
  }),
});

const CreateUserEventSchema = z.object({
  eventTip: optionalLongText,
  eventTags: shortList(z.object({ tag: shortText, value: shortText })).nullish(),
  profileDelta: shortList(
    z.object({ content: longText, topic: shortText.nullish(), subTopic: shortText.nullish() }),
  ).nullish(),
});

const DeleteUserEventPayload = builder
  .objectRef<{ userId: string; eventId: string; deleted: boolean; backend: UserEventDTO['backend'] }>('DeleteUserEventPayload')
  .implement({
    description: 'Result of deleting a user event.',
    fields: (t) => ({
      userId: t.exposeID('userId', { description: 'The user whose event was deleted.' }),
      eventId: t.exposeID('eventId', { description: 'The deleted event.' }),
      deleted: t.exposeBoolean('deleted', { description: 'True: the event is permanently gone.' }),
      backend: t.field({ ...backendField, resolve: (p) => p.backend }),
    }),
  });

builder.queryField('userEvents', (t) =>
  t.field({
    type: UserEventConnection,
    description: "A user's events, newest first.",
    args: {
      userId: t.arg.id({ required: true, description: 'The user (UUID v4 or v5).' }),
      first: t.arg.int({ defaultValue: 10, description: 'Page size, 1 to 100.' }),
      after: t.arg.string({ description: 'Cursor to continue after (`pageInfo.endCursor`).' }),
    },
    resolve: (_root, args, ctx) => {
      const userId = actingUser(ctx, uuidV4OrV5('userId', String(args.userId)))!;
      const first = pageSize(args.first, 10);
      return ctx.stores.userEvents.list({ userId, first, after: cursorArg(args.after) }, { signal: ctx.signal });
    },
  }),
);

builder.mutationField('createUserEvent', (t) =>
  t.field({
    type: UserEvent,
    description: 'Records a user event (local store only: Memobase derives events from chats, so it answers NOT_SUPPORTED).',
    args: {
      userId: t.arg.id({ required: true, description: 'The user (UUID v4 or v5).' }),
      input: t.arg({ type: CreateUserEventInput, required: true, description: 'The event.' }),
    },
    resolve: (_root, args, ctx) => {
      const userId = actingUser(ctx, uuidV4OrV5('userId', String(args.userId)))!;
      const input = parseInput(CreateUserEventSchema, args.input, 'input');
      return ctx.stores.userEvents.create(
        userId,
        {
          eventTip: input.eventTip ?? null,
          eventTags: input.eventTags ?? [],
          profileDelta: (input.profileDelta ?? []).map((d) => ({ content: d.content, topic: d.topic ?? null, subTopic: d.subTopic ?? null })),
        },
        { signal: ctx.signal },
      ).then((created) => announceCreated(ctx, 'userEvents', created));
    },
  }),
);

builder.mutationField('deleteUserEvent', (t) =>
  t.field({
    type: DeleteUserEventPayload,
    description: 'Permanently deletes one event of a user. NOT_FOUND when the user has no such event.',
    args: {
      userId: t.arg.id({ required: true, description: 'The user (UUID v4 or v5).' }),
      eventId: t.arg.id({ required: true, description: 'The event (UUID v4 or v5).' }),
    },
    resolve: async (_root, args, ctx) => {
      const store = ctx.stores.userEvents;
      const attempt = { operation: 'deleteUserEvent', backend: store.backend, targetId: String(args.eventId), userId: String(args.userId) } as const;
      const { call } = await audited(ctx, attempt, () => ({
        family: 'userEvents' as const,
        userId: actingUser(ctx, uuidV4OrV5('userId', String(args.userId)))!,
        eventId: uuidV4OrV5('eventId', String(args.eventId)),
      }));
      return { userId: call.userId, eventId: call.eventId, deleted: true, backend: store.backend };
    },
  }),
);
