import { expect } from 'vitest';
import { dataOf, type TestGateway } from '../helpers/gateway.js';

export interface Page {
  edges: { cursor: string; node: { id: string; createdAt?: string | null } }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

/** Reads one page of a list field. `query` takes $first and $after plus the list's own variables. */
export async function readPage(
  gateway: TestGateway,
  token: string,
  query: string,
  field: string,
  variables: Record<string, unknown>,
): Promise<Page> {
  const data = dataOf(await gateway.execute<Record<string, Page>>(query, variables, { token }), query);
  return data[field]!;
}

/** Walks a list page by page and returns the ids in order, checking the cursors on the way. */
export async function readAll(
  gateway: TestGateway,
  token: string,
  query: string,
  field: string,
  variables: Record<string, unknown>,
  first: number,
): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 100; guard++) {
    const page = await readPage(gateway, token, query, field, { ...variables, first, after });
    expect(page.edges.length).toBeLessThanOrEqual(first);
    ids.push(...page.edges.map((e) => e.node.id));
    if (!page.pageInfo.hasNextPage) return ids;
    expect(page.pageInfo.endCursor).toBe(page.edges.at(-1)!.cursor);
    after = page.pageInfo.endCursor;
  }
  throw new Error('pagination did not end');
}

export function expectNewestFirst(page: Page) {
  const times = page.edges.map((e) => e.node.createdAt).filter((t): t is string => !!t).map((t) => Date.parse(t));
  for (let i = 1; i < times.length; i++) expect(times[i]!).toBeLessThanOrEqual(times[i - 1]!);
}
