import {
  GraphQLError,
  Kind,
  getNamedType,
  isLeafType,
  type ASTVisitor,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  type ValueNode,
  visit,
} from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';

/**
 * What one request may ask of the gateway, as pure functions over the document and its
 * variables. The plugins in src/plugins/ apply them; the numbers come from the configuration.
 */

/**
 * How deeply JSON values (variables, `extensions`, list and object literals in the document) may
 * nest. Far beyond any real `metadata`, and far below what the store's JSON functions and
 * recursive code in the stack can take.
 */
export const MAX_VALUE_DEPTH = 32;

/** Batched (JSON array) requests carry at most this many operations. */
export const MAX_BATCH_OPERATIONS = 10;

/**
 * A refusal of the document or of the request's parameters: BAD_USER_INPUT, HTTP 400 for clients
 * that accept `application/graphql-response+json` (`spec: true` keeps 200 for legacy
 * `application/json` clients, as GraphQL over HTTP asks).
 */
export function documentRefusal(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400, spec: true } } });
}

/** True when `value` nests arrays and objects deeper than `limit`. Iterative: any depth is safe. */
export function jsonDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > limit) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

/** A validation rule: list and object literals nest at most `limit` deep. */
export function valueDepthRule(limit: number) {
  return (context: ValidationContext): ASTVisitor => {
    let depth = 0;
    let reported = false;
    const enter = () => {
      depth += 1;
      if (depth > limit && !reported) {
        reported = true;
        context.reportError(documentRefusal(`Values nest more than ${limit} levels deep`));
      }
    };
    const leave = () => {
      depth -= 1;
    };
    return { ListValue: { enter, leave }, ObjectValue: { enter, leave } };
  };
}

/** Connection bookkeeping: counted for what it holds, not as objects of its own. */
const isBookkeeping = (typeName: string) => typeName === 'PageInfo' || typeName.endsWith('Edge');

/**
 * The estimated cost of an operation: roughly the number of objects its answer can hold. Each
 * object field counts one plus what is under it; a field with `first` multiplies what is under it
 * by `first` (its default when omitted), and `_entities` by the number of representations;
 * scalars, edges and page info count nothing of their own.
 */
const costEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  const type = getNamedType(field.type);
  if (isLeafType(type)) return 0;
  if (isBookkeeping(type.name)) return childComplexity;
  let multiplier = 1;
  if (typeof args.first === 'number') multiplier = Math.max(args.first, 1);
  else if (field.name === '_entities' && Array.isArray(args.representations)) multiplier = Math.max(args.representations.length, 1);
  return 1 + multiplier * childComplexity;
};

/**
 * The names of the variables an estimate reads: those in `first` and `representations` (the
 * multipliers) and in `@include`/`@skip` (which drop fields). Any other variable, an id to delete
 * say, leaves the cost of the document as it is.
 */
function costVariables(document: DocumentNode): string[] {
  const names = new Set<string>();
  const inside = (node: ValueNode) =>
    visit(node, {
      Variable(variable) {
        names.add(variable.name.value);
      },
    });
  visit(document, {
    Argument(argument) {
      if (argument.name.value === 'first' || argument.name.value === 'representations') inside(argument.value);
    },
    Directive(directive) {
      if (directive.name.value === 'include' || directive.name.value === 'skip') for (const argument of directive.arguments ?? []) inside(argument.value);
    },
  });
  return [...names].sort();
}

/** Estimates kept per document (parsed documents are cached and reused by the server). */
interface CostCache {
  variables: string[];
  costs: Map<string, number>;
}
/** Distinct operation names and variable values remembered per document; the oldest goes first. */
const COSTS_PER_DOCUMENT = 64;
/** Values longer than this (as JSON) are estimated each time rather than remembered. */
const MAX_CACHED_KEY = 1_024;

/**
 * Memoised `estimatedCost`: the estimate walks the whole document against the schema, which
 * costs as much as executing a small list, and it depends only on the document, the operation
 * and the values of the variables it reads. Per schema and document, so nothing is shared
 * between schemas; estimates that throw are not kept.
 */
export function costCache(schema: GraphQLSchema) {
  const documents = new WeakMap<DocumentNode, CostCache>();
  return (document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | null | undefined): number => {
    let cache = documents.get(document);
    if (!cache) {
      cache = { variables: costVariables(document), costs: new Map() };
      documents.set(document, cache);
    }
    // A variable left out (its default applies) and one given as null are different estimates.
    const given = cache.variables.filter((name) => variables && Object.hasOwn(variables, name));
    const key = JSON.stringify([operationName ?? null, given, given.map((name) => variables![name])]);
    const known = cache.costs.get(key);
    if (known !== undefined) return known;
    const cost = estimatedCost(schema, document, operationName, variables);
    if (key.length <= MAX_CACHED_KEY) {
      if (cache.costs.size >= COSTS_PER_DOCUMENT) cache.costs.delete(cache.costs.keys().next().value!);
      cache.costs.set(key, cost);
    }
    return cost;
  };
}

/** The cost of the selected operation; throws a GraphQLError when the variables do not fit it. */
export function estimatedCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): number {
  return getComplexity({
    schema,
    query: document,
    operationName: operationName ?? undefined,
    variables: variables ?? {},
    estimators: [costEstimator],
  });
}

export type RateClass = 'reads' | 'writes';

/** What a request takes from its principal's rate limits. */
export interface RateCost {
  reads: number;
  writes: number;
}

/** Bulk deletes and the argument holding their ids: each distinct id counts one write. */
const BULK_ID_ARGUMENTS: Record<string, string> = {
  deleteUserEvents: 'eventIds',
  deleteUserMemories: 'userMemoryIds',
  deleteMemories: 'memoryIds',
};

/** The operation a request runs: the named one, else the only one; undefined when ambiguous. */
export function selectedOperation(document: DocumentNode, operationName?: string | null): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operationName) return operations.find((o) => o.name?.value === operationName);
  return operations.length === 1 ? operations[0] : undefined;
}

function distinctIds(value: ValueNode, variables: Record<string, unknown>): number {
  if (value.kind === Kind.VARIABLE) {
    const given = variables[value.name.value];
    return Array.isArray(given) ? new Set(given.map((id) => JSON.stringify(id))).size : 1;
  }
  if (value.kind === Kind.LIST) {
    return new Set(value.values.map((v) => (v.kind === Kind.VARIABLE ? `$${v.name.value}` : JSON.stringify('value' in v ? v.value : null)))).size;
  }
  return 1;
}

/**
 * What an operation costs against the rate limits: each root field one read or one write, each
 * distinct id of a bulk delete one write. Aliases are separate fields; repeated selections of one
 * response key merge into one field, as execution merges them. Introspection is free: it needs
 * no key either.
 */
export function rateCost(
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
): RateCost {
  const operation = selectedOperation(document, operationName);
  if (!operation) return { reads: 0, writes: 0 };
  const fragments = new Map(
    document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d.selectionSet] as const] : [])),
  );
  const fields = new Map<string, number>();
  const spread = new Set<string>();
  const walk = (selectionSet: SelectionSetNode) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet);
      else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        // Each fragment is walked once: spreading it again selects the same (merged) fields.
        const fragment = fragments.get(selection.name.value);
        if (fragment && !spread.has(selection.name.value)) {
          spread.add(selection.name.value);
          walk(fragment);
        }
      } else if (!selection.name.value.startsWith('__')) {
        const ids = selection.arguments?.find((a) => a.name.value === BULK_ID_ARGUMENTS[selection.name.value]);
        const points = ids ? Math.max(1, distinctIds(ids.value, variables ?? {})) : 1;
        const key = selection.alias?.value ?? selection.name.value;
        fields.set(key, Math.max(fields.get(key) ?? 0, points));
      }
    }
  };
  walk(operation.selectionSet);
  const points = [...fields.values()].reduce((sum, n) => sum + n, 0);
  return operation.operation === 'mutation' ? { reads: 0, writes: points } : { reads: points, writes: 0 };
}

/** A GraphQL-shaped BAD_USER_INPUT response for requests refused at the HTTP edge, before GraphQL sees them. */
export function refusal(fetchAPI: { Response: typeof Response }, status: number, message: string): Response {
  return new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_USER_INPUT' } }] }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}
