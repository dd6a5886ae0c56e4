import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RequestListener } from 'node:http';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { createGatewayRuntime, type GatewayRuntime } from '@graphql-hive/gateway-runtime';
import { composeServices, compositionHasErrors } from '@theguild/federation-composition';
import { parse } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startGateway, type GraphQLResponse, type TestGateway } from '../helpers/gateway.js';
import { serveHandler, type ServedGateway } from '../helpers/http-server.js';

/**
 * memory-gateway as one subgraph of a real federated graph: a second subgraph owns the users'
 * profiles, composition produces the supergraph, and Hive Gateway serves it over HTTP,
 * forwarding the client's Authorization header to the subgraphs.
 */

const TENANT = 'tenant-supergraph';
const PROFILES: { id: string; displayName: string }[] = [
  { id: randomUUID(), displayName: 'Ada' },
  { id: randomUUID(), displayName: 'Grace' },
  { id: randomUUID(), displayName: 'Linus' },
];

/** The other subgraph: user profiles, and the root field that lists users. */
function profilesSubgraph() {
  const typeDefs = parse(/* GraphQL */ `
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])

    type User @key(fields: "id") {
      id: ID!
      displayName: String!
    }

    type Query {
      users: [User!]!
    }
  `);
  const byId = new Map(PROFILES.map((p) => [p.id, p]));
  const schema = buildSubgraphSchema({
    typeDefs,
    resolvers: {
      Query: { users: () => PROFILES },
      User: { __resolveReference: (ref: { id: string }) => byId.get(ref.id) ?? null },
    },
  });
  return { typeDefs, yoga: createYoga({ schema, logging: false, graphiql: false }) };
}

interface UsersData {
  users: {
    id: string;
    displayName: string;
    memories: { edges: { node: { id: string; memory: string } }[] };
    events: { edges: { node: { eventTip: string } }[] };
    userMemories: { edges: { node: { content: string } }[] };
  }[];
}

const USERS_QUERY = /* GraphQL */ `
  query Users {
    users {
      id
      displayName
      memories(first: 10) { edges { node { id memory } } }
      events(first: 10) { edges { node { eventTip } } }
      userMemories(first: 10) { edges { node { content } } }
    }
  }
`;

describe('memory-gateway in a supergraph served by Hive Gateway', () => {
  let memoryGateway: TestGateway;
  let memorySubgraph: ServedGateway;
  let profiles: ServedGateway;
  let runtime: GatewayRuntime;
  let router: ServedGateway;
  let token: string;
  /** The Authorization header of every request memory-gateway received. */
  const authorizationSeen: (string | undefined)[] = [];

  async function viaRouter<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}, authorization?: string) {
    const response = await fetch(router.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, headers: response.headers, body: await response.json() } as GraphQLResponse<T>;
  }

  beforeAll(async () => {
    memoryGateway = await startGateway();
    token = await memoryGateway.createKey(TENANT);
    const server = memoryGateway.app.server as unknown as RequestListener;
    memorySubgraph = await serveHandler((req, res) => {
      authorizationSeen.push(req.headers.authorization);
      server(req, res);
    });
    const other = profilesSubgraph();
    profiles = await serveHandler(other.yoga as unknown as RequestListener);

    for (const [i, { id }] of PROFILES.entries()) {
      dataOf(
        await memoryGateway.execute(
          `mutation($u: ID!, $us: String!) {
            createUserEvent(userId: $u, input: { eventTip: "signed up" }) { id }
            addUserMemory(input: { userId: $us, content: "prefers email" }) { id }
            createMemory(input: { userId: $us, memory: "memory ${i}" }) { id }
          }`,
          { u: id, us: id },
          { token },
        ),
      );
    }

    // Composed from the committed subgraph SDL, as a schema registry or `rover` would.
    const composition = composeServices([
      { name: 'memory', url: memorySubgraph.url, typeDefs: parse(readFileSync(new URL('../../schema/subgraph.graphql', import.meta.url), 'utf8')) },
      { name: 'profiles', url: profiles.url, typeDefs: other.typeDefs },
    ]);
    if (compositionHasErrors(composition)) throw new Error(composition.errors.map((e) => e.message).join('\n'));

    runtime = createGatewayRuntime({
      supergraph: composition.supergraphSdl,
      logging: false,
      // The subgraph authenticates every operation, `_entities` included, with the client's token.
      propagateHeaders: {
        fromClientToSubgraphs: ({ request }) => ({ authorization: request.headers.get('authorization') }),
      },
    });
    router = await serveHandler(runtime as unknown as RequestListener);
  });

  afterAll(async () => {
    await router?.close();
    await runtime?.dispose();
    await profiles?.close();
    await memorySubgraph?.close();
    await memoryGateway?.close();
  });

  it("answers one query with fields from both subgraphs, each user's lists from memory-gateway", async () => {
    authorizationSeen.length = 0;
    const res = await viaRouter<UsersData>(USERS_QUERY, {}, `Bearer ${token}`);
    const { users } = dataOf(res, USERS_QUERY);
    expect(users.map((u) => [u.id, u.displayName])).toEqual(PROFILES.map((p) => [p.id, p.displayName]));
    expect(users.map((u) => u.memories.edges.map((e) => e.node.memory))).toEqual(PROFILES.map((_, i) => [`memory ${i}`]));
    for (const user of users) {
      expect(user.events.edges.map((e) => e.node.eventTip)).toEqual(['signed up']);
      expect(user.userMemories.edges.map((e) => e.node.content)).toEqual(['prefers email']);
    }
    // All three users' fields came from memory-gateway in one `_entities` request, with the token.
    expect(authorizationSeen).toEqual([`Bearer ${token}`]);
  });

  it('runs a delete mutation through the router; the memory is gone afterwards', async () => {
    const before = dataOf(await viaRouter<UsersData>(USERS_QUERY, {}, `Bearer ${token}`));
    const target = before.users[1]!.memories.edges[0]!.node;
    const deleteMutation = `mutation($id: ID!, $u: String) { deleteMemory(memoryId: $id, userId: $u) { memoryId message backend } }`;

    const deleted = dataOf(await viaRouter(deleteMutation, { id: target.id, u: PROFILES[1]!.id }, `Bearer ${token}`));
    expect(deleted.deleteMemory).toMatchObject({ memoryId: target.id, backend: 'LOCAL' });

    const after = dataOf(await viaRouter<UsersData>(USERS_QUERY, {}, `Bearer ${token}`));
    expect(after.users.map((u) => u.memories.edges.map((e) => e.node.memory))).toEqual([['memory 0'], [], ['memory 2']]);
    const again = await viaRouter(deleteMutation, { id: target.id, u: PROFILES[1]!.id }, `Bearer ${token}`);
    expect(again.body.errors?.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
  });

  it("forwards the client's Authorization header: a bad token is UNAUTHENTICATED, a good one works", async () => {
    authorizationSeen.length = 0;
    const bad = await viaRouter<UsersData>(USERS_QUERY, {}, 'Bearer mgw_not-a-real-key');
    // memory-gateway refused the token it was sent (not a missing one) and the router passed its
    // code on; no user's memories are in the answer.
    expect(bad.body.errors?.map((e) => e.extensions?.code), JSON.stringify(bad.body)).toEqual(['UNAUTHENTICATED']);
    expect(bad.body.errors![0]!.message).not.toMatch(/missing/i);
    expect(JSON.stringify(bad.body.data ?? null)).not.toContain('memory 0');
    expect(authorizationSeen).toEqual(['Bearer mgw_not-a-real-key']);

    const rootBad = await viaRouter('{ memories(first: 1) { edges { node { id } } } }', {}, 'Bearer mgw_not-a-real-key');
    expect(rootBad.body.errors!.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);

    const good = await viaRouter<{ memories: { edges: unknown[] } }>('{ memories(first: 5) { edges { node { memory } } } }', {}, `Bearer ${token}`);
    expect(dataOf(good).memories.edges).toEqual([{ node: { memory: 'memory 2' } }, { node: { memory: 'memory 0' } }]);
  });
});
