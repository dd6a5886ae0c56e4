import { actorOf } from '../../auth/principal.js';
import { afterTimeKey, decodeCursor, encodeCursor, isTimeKey, toConnection } from '../../backends/cursor.js';
import type { BackendName } from '../../backends/types.js';
import type { Context } from '../../context.js';
import type { Family } from '../../events/change-bus.js';
import type { ForgetJob, PrismaClient } from '../../generated/prisma/client.js';
import { itemCounts, type ForgetStatus as Status, type PartState } from '../../privacy/forget-jobs.js';
import type { ReceiptPayload } from '../../privacy/receipts.js';
import { actingUser, requireTenantKey } from '../authz.js';
import { builder } from '../builder.js';
import { cursorArg, optionalId, pageSize, requiredId } from '../validate.js';
import { MemoryFamily } from './changes.js';
import { MemoryBackend } from './common.js';

interface PartView {
  family: Family;
  backend: BackendName;
  status: Status;
  found: number;
  deleted: number;
  failed: number;
  attempts: number;
  verifiedAbsent: boolean;
  error: string | null;
}

interface ReceiptView {
  id: string;
  userId: string;
  dryRun: boolean;
  status: Status;
  actor: string;
  requestedAt: Date;
  finishedAt: Date | null;
  parts: PartView[];
  signature: string | null;
  signedPayload: string | null;
}

const ForgetStatus = builder.enumType('ForgetStatus', {
  description: 'Where a forget stands.',
  values: {
    RUNNING: { description: 'Work remains; poll `forgetUserReceipt`.' },
    COMPLETED: { description: 'Everything found was deleted and a fresh listing found nothing left.' },
    PARTIAL: { description: 'Some of it was deleted; see each part for what failed and why.' },
    FAILED: { description: 'Nothing could be deleted (or listed).' },
  } as const,
});

const ForgetPart = builder.objectRef<PartView>('ForgetPart').implement({
  description: "One family's part of a forget, on the backend the tenant routes that family to.",
  fields: (t) => ({
    family: t.field({ type: MemoryFamily, resolve: (p) => p.family, description: 'The family.' }),
    backend: t.field({ type: MemoryBackend, resolve: (p) => p.backend, description: 'Where the family lives for this tenant.' }),
    status: t.field({ type: ForgetStatus, resolve: (p) => p.status, description: "This part's status." }),
    found: t.exposeInt('found', { description: "How many of the user's items were found (a dry run counts them)." }),
    deleted: t.exposeInt('deleted', { description: 'How many of them are gone.' }),
    failed: t.exposeInt('failed', { description: 'How many could not be deleted.' }),
    attempts: t.exposeInt('attempts', { description: 'Calls made to the backend: upstream requests with their retries, or delete statements locally.' }),
    verifiedAbsent: t.exposeBoolean('verifiedAbsent', { description: 'A fresh listing after the deletes found nothing left of the user.' }),
    error: t.exposeString('error', { nullable: true, description: 'What went wrong first, when something did.' }),
  }),
});

const ForgetUserReceipt = builder.objectRef<ReceiptView>('ForgetUserReceipt').implement({
  description:
    'What a forget did: per family, how many items of the user were found and deleted. Signed (Ed25519) once final; never holds memory content.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Receipt id.' }),
    userId: t.exposeString('userId', { description: 'The user forgotten.' }),
    dryRun: t.exposeBoolean('dryRun', { description: 'True: counted only, nothing deleted.' }),
    status: t.field({ type: ForgetStatus, resolve: (r) => r.status, description: 'Overall status.' }),
    actor: t.exposeString('actor', { description: 'Who asked: `key:<key id>` or `user:<user id>`.' }),
    requestedAt: t.expose('requestedAt', { type: 'DateTime', description: 'When it was asked for.' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true, description: 'When it became final; null while RUNNING.' }),
    parts: t.field({ type: [ForgetPart], resolve: (r) => r.parts, description: 'One per family.' }),
    signature: t.exposeString('signature', { nullable: true, description: 'Base64 Ed25519 signature over `signedPayload`; set once the receipt is final.' }),
    signedPayload: t.exposeString('signedPayload', {
      nullable: true,
      description: 'The RFC 8785 canonical JSON that was signed (ids, times, status, counts; no memory content). Check it with `npx memory-gateway receipts verify <file>`.',
    }),
  }),
});

const ForgetUserReceiptConnection = builder.connectionObject(
  { type: ForgetUserReceipt, name: 'ForgetUserReceiptConnection', description: 'A page of forget receipts, newest first.' },
  { name: 'ForgetUserReceiptEdge', description: 'A receipt and its cursor.' },
);

const ReceiptSigningKey = builder
  .objectRef<{ algorithm: string; publicKeyPem: string; keyId: string }>('ReceiptSigningKey')
  .implement({
    description: 'The public key that verifies forget receipts.',
    fields: (t) => ({
      algorithm: t.exposeString('algorithm', { description: 'Always `Ed25519`.' }),
      publicKeyPem: t.exposeString('publicKeyPem', { description: 'SPKI PEM of the public key.' }),
      keyId: t.exposeString('keyId', { description: 'Short id of the key (base64url SHA-256 of its DER form), named in every signed payload.' }),
    }),
  });

const FAMILY_OF_NAME: Record<string, Family> = { USER_EVENTS: 'userEvents', USER_MEMORIES: 'userMemories', MEMORIES: 'memories' };

/** Receipts as the API shows them; a final one's counts are the ones it signed. */
async function receiptsOf(prisma: PrismaClient, jobs: ForgetJob[]): Promise<ReceiptView[]> {
  const live = await itemCounts(
    prisma,
    jobs.filter((job) => !job.signedPayload).map((job) => job.id),
  );
  return jobs.map((job) => {
    const states = job.parts as unknown as PartState[];
    const signed = job.signedPayload ? (JSON.parse(job.signedPayload) as ReceiptPayload) : undefined;
    const parts = states.map((state): PartView => {
      const signedPart = signed?.parts.find((p) => FAMILY_OF_NAME[p.family] === state.family);
      const counts = signedPart ?? live.get(`${job.id}\0${state.family}`) ?? { found: 0, deleted: 0, failed: 0 };
      return {
        family: state.family,
        backend: state.backend,
        status: state.status,
        found: counts.found,
        deleted: counts.deleted,
        failed: counts.failed,
        attempts: signedPart?.attempts ?? state.attempts,
        verifiedAbsent: state.verifiedAbsent,
        error: state.error,
      };
    });
    return {
      id: job.id,
      userId: job.userId,
      dryRun: job.dryRun,
      status: job.status as Status,
      actor: job.actor,
      requestedAt: job.requestedAt,
      finishedAt: job.finishedAt,
      parts,
      signature: job.signature,
      signedPayload: job.signedPayload,
    };
  });
}

/** A receipt of the caller's tenant (an end user's own only), or null. */
async function receiptFor(ctx: Context, id: string): Promise<ReceiptView | null> {
  const job = await ctx.prisma.forgetJob.findFirst({ where: { id, tenantId: ctx.principal.tenantId } });
  if (!job) return null;
  if (ctx.principal.kind === 'end-user' && job.userId !== ctx.principal.userId) return null;
  return (await receiptsOf(ctx.prisma, [job]))[0]!;
}

builder.queryField('forgetUserReceipt', (t) =>
  t.field({
    type: ForgetUserReceipt,
    nullable: true,
    description: 'A forget receipt by id; null when this tenant (or, for an end user, this user) has none with that id.',
    args: { id: t.arg.id({ required: true, description: 'The receipt id `forgetUser` returned.' }) },
    resolve: (_root, args, ctx) => receiptFor(ctx, requiredId('id', String(args.id))),
  }),
);

const CURSOR = 'forgetUserReceipts';

builder.queryField('forgetUserReceipts', (t) =>
  t.field({
    type: ForgetUserReceiptConnection,
    description: "The tenant's forget receipts, newest first, optionally for one user. Tenant API keys only.",
    args: {
      userId: t.arg.string({ description: 'Only receipts of this user.' }),
      first: t.arg.int({ defaultValue: 20, description: 'Page size, 1 to 100.' }),
      after: t.arg.string({ description: 'Cursor to continue after (`pageInfo.endCursor`).' }),
    },
    resolve: async (_root, args, ctx) => {
      requireTenantKey(ctx, 'forgetUserReceipts');
      const first = pageSize(args.first, 20);
      const after = cursorArg(args.after);
      const key = after ? decodeCursor(CURSOR, after, isTimeKey) : undefined;
      const userId = optionalId('userId', args.userId);
      const jobs = await ctx.prisma.forgetJob.findMany({
        where: { tenantId: ctx.principal.tenantId, ...(userId != null && { userId }), ...afterTimeKey(key, 'requestedAt') },
        orderBy: [{ requestedAt: 'desc' }, { id: 'desc' }],
        take: first + 1,
      });
      return toConnection(await receiptsOf(ctx.prisma, jobs), first, (r) => encodeCursor(CURSOR, { t: r.requestedAt.toISOString(), id: r.id }));
    },
  }),
);

builder.queryField('receiptSigningKey', (t) =>
  t.field({
    type: ReceiptSigningKey,
    description: 'The public key that verifies forget receipts (the same for every tenant of this gateway).',
    resolve: (_root, _args, ctx) => {
      // Any authenticated caller; reading the principal refuses anonymous requests.
      void ctx.principal;
      return ctx.privacy.receipts.publicKey();
    },
  }),
);

builder.mutationField('forgetUser', (t) =>
  t.field({
    type: ForgetUserReceipt,
    description:
      'Deletes everything of a user in all three families, each on the backend the tenant routes it to, then lists again to verify nothing is left. ' +
      'Answers within a few seconds (RUNNING while work remains; poll `forgetUserReceipt`); the work goes on in the background and survives restarts. ' +
      'A second call for a user whose forget is running returns that receipt. `dryRun: true` counts and deletes nothing. End users may forget only themselves.',
    args: {
      userId: t.arg.string({ required: true, description: 'The user to forget.' }),
      dryRun: t.arg.boolean({ defaultValue: false, description: 'Count what would be deleted, delete nothing.' }),
    },
    resolve: async (_root, args, ctx) => {
      const userId = actingUser(ctx, requiredId('userId', args.userId))!;
      const id = await ctx.privacy.forget.request({
        tenantId: ctx.principal.tenantId,
        userId,
        actor: actorOf(ctx.principal),
        dryRun: args.dryRun ?? false,
        requestId: ctx.requestId,
      });
      return (await receiptFor(ctx, id))!;
    },
  }),
);
