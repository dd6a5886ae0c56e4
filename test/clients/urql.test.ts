import { randomUUID } from 'node:crypto';
import { Client, fetchExchange, gql, type AnyVariables, type DocumentInput } from '@urql/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataOf, startGateway, type TestGateway } from '../helpers/gateway.js';
import { serveOverHttp, type ServedGateway } from '../helpers/http-server.js';

/** For each family: its list and delete operations as a front end writes them. */
const FAMILIES = {
  userEvents: {
    list: gql`
      query Events($userId: ID!) {
        userEvents(userId: $userId, first: 10) { edges { node { id eventTip backend } } pageInfo { hasNextPage } }
      }
    `,
    delete: gql`
      mutation ForgetEvent($userId: ID!, $id: ID!) { deleteUserEvent(userId: $userId, eventId: $id) { eventId deleted backend } }
    `,
    create: `mutation($u: ID!, $text: String!) { createUserEvent(userId: $u, input: { eventTip: $text }) { id } }`,
    connection: 'userEvents',
    textOf: (node: Record<string, string>) => node.eventTip,
  },
  userMemories: {
    list: gql`
      query Facts($userId: String!) {
        userMemories(userId: $userId, first: 10) { edges { node { id content backend } } pageInfo { hasNextPage } }
      }
    `,
    delete: gql`
      mutation ForgetFact($id: ID!) { deleteUserMemory(userMemoryId: $id) { userMemoryId deleted backend } }
    `,
    create: `mutation($u: String!, $text: String!) { addUserMemory(input: { userId: $u, content: $text }) { id } }`,
    connection: 'userMemories',
    textOf: (node: Record<string, string>) => node.content,
  },
  memories: {
    list: gql`
      query Memories($userId: String!) {
        memories(userId: $userId, first: 10) { edges { node { id memory backend } } pageInfo { hasNextPage } }
      }
    `,
    delete: gql`
      mutation ForgetMemory($userId: String!, $id: ID!) { deleteMemory(memoryId: $id, userId: $userId) { memoryId message backend } }
    `,
    create: `mutation($u: String!, $text: String!) { createMemory(input: { userId: $u, memory: $text }) { id } }`,
    connection: 'memories',
    textOf: (node: Record<string, string>) => node.memory,
  },
} as const;

describe('urql against the gateway over HTTP', () => {
  let gateway: TestGateway;
  let served: ServedGateway;
  let urql: Client;
  let token: string;

  beforeAll(async () => {
    gateway = await startGateway();
    served = await serveOverHttp(gateway);
    token = await gateway.createKey('tenant-urql');
    urql = new Client({
      url: served.url,
      exchanges: [fetchExchange],
      fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
      // Every list must come from the server, so a delete is seen on the next read.
      requestPolicy: 'network-only',
    });
  });
  afterAll(async () => {
    await served?.close();
    await gateway?.close();
  });

  const query = async (document: DocumentInput, variables: AnyVariables) => {
    const result = await urql.query(document, variables).toPromise();
    if (result.error || !result.data) throw result.error ?? new Error('no data');
    return result.data;
  };

  it.each(Object.keys(FAMILIES) as (keyof typeof FAMILIES)[])('%s: lists, deletes one, lists again without it', async (name) => {
    const family = FAMILIES[name];
    const userId = randomUUID();
    const ids: string[] = [];
    for (const text of ['first', 'second']) {
      const created = dataOf(await gateway.execute<Record<string, { id: string }>>(family.create, { u: userId, text }, { token }));
      ids.push(Object.values(created)[0]!.id);
    }

    const before = await query(family.list, { userId });
    const nodes = before[family.connection].edges.map((e: { node: Record<string, string> }) => e.node);
    expect(nodes.map((n: Record<string, string>) => [n.id, family.textOf(n), n.backend])).toEqual([
      [ids[1], 'second', 'LOCAL'],
      [ids[0], 'first', 'LOCAL'],
    ]);

    const deleted = await urql.mutation(family.delete, { userId, id: ids[0] }).toPromise();
    expect(deleted.error).toBeUndefined();
    expect(Object.values(deleted.data)[0]).toMatchObject({ backend: 'LOCAL' });

    const after = await query(family.list, { userId });
    expect(after[family.connection].edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([ids[1]]);

    const again = await urql.mutation(family.delete, { userId, id: ids[0] }).toPromise();
    expect(again.error?.graphQLErrors.map((e) => e.extensions.code)).toEqual(['NOT_FOUND']);
  });
});
