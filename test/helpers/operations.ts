import { randomUUID } from 'node:crypto';

/**
 * One well-formed request per core operation of the contract, for tests that must hold for every
 * operation (authentication, tenant isolation). Ids are fresh, so deletes target nothing.
 */
export interface OperationCase {
  name: string;
  kind: 'query' | 'mutation';
  query: string;
  variables: () => Record<string, unknown>;
}

export const CORE_OPERATIONS: OperationCase[] = [
  {
    name: 'createUserEvent',
    kind: 'mutation',
    query: `mutation($u: ID!, $i: CreateUserEventInput!) { createUserEvent(userId: $u, input: $i) { id } }`,
    variables: () => ({ u: randomUUID(), i: { eventTip: 'asked about flights' } }),
  },
  {
    name: 'userEvents',
    kind: 'query',
    query: `query($u: ID!) { userEvents(userId: $u) { edges { node { id } } } }`,
    variables: () => ({ u: randomUUID() }),
  },
  {
    name: 'deleteUserEvent',
    kind: 'mutation',
    query: `mutation($u: ID!, $e: ID!) { deleteUserEvent(userId: $u, eventId: $e) { deleted } }`,
    variables: () => ({ u: randomUUID(), e: randomUUID() }),
  },
  {
    name: 'addUserMemory',
    kind: 'mutation',
    query: `mutation($i: AddUserMemoryInput!) { addUserMemory(input: $i) { id } }`,
    variables: () => ({ i: { content: 'prefers window seats', userId: 'user-1' } }),
  },
  {
    name: 'userMemories',
    kind: 'query',
    query: `{ userMemories { edges { node { id } } } }`,
    variables: () => ({}),
  },
  {
    name: 'deleteUserMemory',
    kind: 'mutation',
    query: `mutation($id: ID!) { deleteUserMemory(userMemoryId: $id) { deleted } }`,
    variables: () => ({ id: randomUUID() }),
  },
  {
    name: 'createMemory',
    kind: 'mutation',
    query: `mutation($i: CreateMemoryInput!) { createMemory(input: $i) { id } }`,
    variables: () => ({ i: { userId: 'user-1', memory: 'allergic to peanuts' } }),
  },
  {
    name: 'memories',
    kind: 'query',
    query: `{ memories { edges { node { id } } } }`,
    variables: () => ({}),
  },
  {
    name: 'deleteMemory',
    kind: 'mutation',
    query: `mutation($id: ID!) { deleteMemory(memoryId: $id) { message } }`,
    variables: () => ({ id: randomUUID() }),
  },
  {
    name: 'deletionAudit',
    kind: 'query',
    query: `{ deletionAudit { edges { node { id } } } }`,
    variables: () => ({}),
  },
];
