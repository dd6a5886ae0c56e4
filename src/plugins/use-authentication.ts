import { Kind, parse, type DocumentNode, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Authenticator, Principal } from '../auth/principal.js';
import { AppError } from '../errors.js';

const INTROSPECTION_FIELDS = new Set(['__schema', '__type', '__typename']);
/** Enough for GraphiQL's and the routers' introspection queries; an attacker's document is cut off early. */
const MAX_ANONYMOUS_TOKENS = 5_000;

/**
 * Whether a document only introspects: every root field of every operation is `__schema`,
 * `__type` or `__typename` (fragments followed). Such documents need no key: the schema is
 * public (contract § Authentication), and GraphiQL can show its Docs before a key is pasted.
 */
export function isIntrospectionOnly(query: string): boolean {
  let document: DocumentNode;
  try {
    document = parse(query, { noLocation: true, maxTokens: MAX_ANONYMOUS_TOKENS });
  } catch {
    return false;
  }
  const fragments = new Map<string, SelectionSetNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition.selectionSet);
  }
  const seen = new Set<string>();
  const onlyIntrospection = (set: SelectionSetNode): boolean =>
    set.selections.every((selection) => {
      if (selection.kind === Kind.FIELD) return INTROSPECTION_FIELDS.has(selection.name.value);
      if (selection.kind === Kind.INLINE_FRAGMENT) return onlyIntrospection(selection.selectionSet);
      const name = selection.name.value;
      if (seen.has(name)) return true;
      seen.add(name);
      const fragment = fragments.get(name);
      return fragment !== undefined && onlyIntrospection(fragment);
    });
  let operations = 0;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    operations += 1;
    if (definition.operation !== 'query' || !onlyIntrospection(definition.selectionSet)) return false;
  }
  return operations > 0;
}

/**
 * Authenticates every GraphQL request before its document is parsed or validated, so an
 * anonymous caller costs a header check, not a parse and validation (and learns nothing from
 * validation messages). Introspection-only documents are let through without a key. The
 * principal is kept for the context factory (server.ts) through `principals`.
 */
export function useAuthentication(authenticator: Authenticator, principals: WeakMap<Request, Principal>): Plugin {
  return {
    async onParams({ params, request, setResult }) {
      if (principals.has(request)) return;
      if (typeof params.query === 'string' && isIntrospectionOnly(params.query)) return;
      try {
        principals.set(request, await authenticator.authenticate(request.headers.get('authorization')));
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        setResult({ errors: [error] });
      }
    },
  };
}
