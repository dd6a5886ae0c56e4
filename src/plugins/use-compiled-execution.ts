import { useGraphQlJit } from '@envelop/graphql-jit';
import { getOperationAST, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Queries and mutations run compiled: each document is compiled once (graphql-jit, kept per
 * parsed document, which Yoga caches) into a function that resolves it, instead of being
 * interpreted field by field on every request. Subscriptions (`memoryChanges`) keep the standard
 * executor, whose event streams the compiled path does not carry.
 *
 * Variables the document refuses (wrong type, missing, out of range) stop a request before it
 * runs. The standard executor marks those errors HTTP 400; the second plugin does the same for
 * the compiled path, so that clients see the same status either way.
 */
export function useCompiledExecution(): Plugin[] {
  return [
    useGraphQlJit({}, { enableIf: ({ document, operationName }) => getOperationAST(document, operationName)?.operation !== 'subscription' }) as Plugin,
    {
      onExecute: () => ({
        onExecuteDone({ result, setResult }) {
          // Errors without a path and no data: the request never started resolving fields.
          if (!('errors' in result) || !result.errors?.length || result.data != null) return;
          if (result.errors.some((error) => error.path !== undefined || (error.extensions?.http as { status?: number } | undefined)?.status)) return;
          setResult({ ...result, errors: result.errors.map(asRequestError) });
        },
      }),
    },
  ];
}

function asRequestError(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    originalError: error.originalError,
    extensions: { ...error.extensions, http: { status: 400 } },
  });
}
