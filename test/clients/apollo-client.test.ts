import { randomUUID } from 'node:crypto';
import { ApolloClient, CombinedGraphQLErrors, HttpLink, InMemoryCache, gql, isReference, type Reference } from '@apollo/client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dataOf, startGateway, type TestGateway } from '../helpers/gateway.js';
import { serveOverHttp, type ServedGateway } from '../helpers/http-server.js';

const MEMORIES = gql`
  query UserMemoriesList($userId: String!) {
    memories(userId: $userId, first: 10) {
      edges { cursor node { id userId memory topics backend } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

const DELETE_MEMORY = gql`
  mutation ForgetMemory($memoryId: ID!, $userId: String) {
    deleteMemory(memoryId: $memoryId, userId: $userId) { memoryId message backend }
  }
`;

interface MemoriesData {
  memories: { edges: { cursor: string; node: { id: string; memory: string } }[] };
}

/**
 * The recipe the README gives users: after a delete, drop the item's edge from every cached
 * `memories` connection, then evict the item and collect what nothing references any more.
 */
function forgetInCache(cache: InMemoryCache, memoryId: string) {
  const id = cache.identify({ __typename: 'Memory', id: memoryId });
  cache.modify<{ memories: { edges: { node: Reference }[] } }>({
    fields: {
      memories: (connection, { readField }) =>
        isReference(connection)
          ? connection
          : { ...connection, edges: connection.edges.filter((edge) => readField('id', edge.node) !== memoryId) },
    },
  });
  cache.evict({ id });
  cache.gc();
}

/** The normalized cache as Apollo keeps it: `Memory:<id>` entries. */
const normalized = (apollo: ApolloClient) => (apollo.cache as InMemoryCache).extract();

describe('Apollo Client (InMemoryCache) against the gateway over HTTP', () => {
  let gateway: TestGateway;
  let served: ServedGateway;
  let token: string;
  let userId: string;
  let ids: string[];

  const client = (authorization = `Bearer ${token}`) =>
    new ApolloClient({ link: new HttpLink({ uri: served.url, headers: { authorization } }), cache: new InMemoryCache() });

  beforeAll(async () => {
    gateway = await startGateway();
    served = await serveOverHttp(gateway);
    token = await gateway.createKey('tenant-apollo');
  });
  afterAll(async () => {
    await served?.close();
    await gateway?.close();
  });

  beforeEach(async () => {
    userId = `user-${randomUUID()}`;
    ids = [];
    for (const memory of ['likes tea', 'lives in Lyon', 'has a cat']) {
      const res = await gateway.execute<any>(
        `mutation($i: CreateMemoryInput!) { createMemory(input: $i) { id } }`,
        { i: { userId, memory } },
        { token },
      );
      ids.push(dataOf(res).createMemory.id);
    }
  });

  it('lists memories, deletes one, and the cache no longer shows it (cache.modify + evict)', async () => {
    const apollo = client();
    const { data } = await apollo.query<MemoriesData>({ query: MEMORIES, variables: { userId } });
    expect(data!.memories.edges.map((e) => e.node.memory)).toEqual(['has a cat', 'lives in Lyon', 'likes tea']);
    const [target] = ids.slice(-1); // 'has a cat'
    expect(normalized(apollo)[`Memory:${target}`]).toBeDefined();

    const { data: deleted } = await apollo.mutate({
      mutation: DELETE_MEMORY,
      variables: { memoryId: target, userId },
      update: (cache) => forgetInCache(cache as InMemoryCache, target!),
    });
    expect(deleted).toEqual({ deleteMemory: { __typename: 'DeleteMemoryPayload', memoryId: target, message: expect.any(String), backend: 'LOCAL' } });

    // What a component rendering this query reads now, without another request.
    const cached = apollo.readQuery<MemoriesData>({ query: MEMORIES, variables: { userId } });
    expect(cached!.memories.edges.map((e) => e.node.memory)).toEqual(['lives in Lyon', 'likes tea']);
    expect(normalized(apollo)[`Memory:${target}`]).toBeUndefined();

    // And the server agrees.
    const fresh = await apollo.query<MemoriesData>({ query: MEMORIES, variables: { userId }, fetchPolicy: 'network-only' });
    expect(fresh.data!.memories.edges.map((e) => e.node.id)).toEqual(ids.slice(0, 2).reverse());
  });

  it('lists memories, deletes one, and a refetch of the list drops it', async () => {
    const apollo = client();
    await apollo.query({ query: MEMORIES, variables: { userId } });
    await apollo.mutate({
      mutation: DELETE_MEMORY,
      variables: { memoryId: ids[0], userId },
      refetchQueries: [{ query: MEMORIES, variables: { userId } }],
      awaitRefetchQueries: true,
    });
    const cached = apollo.readQuery<MemoriesData>({ query: MEMORIES, variables: { userId } });
    expect(cached!.memories.edges.map((e) => e.node.memory)).toEqual(['has a cat', 'lives in Lyon']);
  });

  it('hands extensions.code to the application unchanged in its error objects', async () => {
    const apollo = client();

    const badPage = await apollo.query({ query: gql`{ memories(first: 0) { edges { cursor } } }`, errorPolicy: 'all' });
    expect(CombinedGraphQLErrors.is(badPage.error)).toBe(true);
    const [bad] = (badPage.error as CombinedGraphQLErrors).errors;
    expect(bad!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });

    await apollo.mutate({ mutation: DELETE_MEMORY, variables: { memoryId: ids[0], userId } });
    const again = await apollo.mutate({ mutation: DELETE_MEMORY, variables: { memoryId: ids[0], userId } }).catch((e: unknown) => e);
    expect(CombinedGraphQLErrors.is(again)).toBe(true);
    expect((again as CombinedGraphQLErrors).errors.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);

    const anonymous = await client('Bearer mgw_not-a-real-key')
      .query({ query: MEMORIES, variables: { userId } })
      .catch((e: unknown) => e);
    expect(CombinedGraphQLErrors.is(anonymous)).toBe(true);
    expect((anonymous as CombinedGraphQLErrors).errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  });
});
