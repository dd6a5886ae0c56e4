import type { GraphQLSchema } from 'graphql';
import { badInput } from '../errors.js';

/** The entity types this subgraph resolves and the fields of their `@key` (src/graphql/types/user.ts). */
const ENTITY_KEYS: Record<string, readonly string[]> = { User: ['id'] };

const isKeyValue = (value: unknown) => (typeof value === 'string' && value.length > 0) || (typeof value === 'number' && Number.isInteger(value));

/**
 * `_entities` takes its representations as `_Any`, which accepts any JSON; the federation
 * runtime then fails on a missing `__typename`, an unknown type or a key that is not an id, and
 * the caller would see an internal error. Representations are checked first, so a router (or
 * anyone else) sending malformed ones gets BAD_USER_INPUT naming the one at fault.
 */
export function guardEntityRepresentations(schema: GraphQLSchema): GraphQLSchema {
  const field = schema.getQueryType()?.getFields()._entities;
  const resolve = field?.resolve;
  if (!field || !resolve) return schema;
  field.resolve = (source, args, context, info) => {
    const representations: unknown = args.representations;
    if (!Array.isArray(representations)) throw badInput('representations', 'representations must be a list of entity references');
    representations.forEach((representation: unknown, i) => {
      const at = `representations.${i}`;
      if (!representation || typeof representation !== 'object' || Array.isArray(representation)) {
        throw badInput(at, `${at} must be an object such as { __typename: "User", id: "…" }`);
      }
      const reference = representation as Record<string, unknown>;
      const keys = typeof reference.__typename === 'string' ? ENTITY_KEYS[reference.__typename] : undefined;
      if (!keys) throw badInput(`${at}.__typename`, `${at}.__typename must name an entity type of this subgraph: ${Object.keys(ENTITY_KEYS).join(', ')}`);
      for (const key of keys) {
        if (!isKeyValue(reference[key])) throw badInput(`${at}.${key}`, `${at}.${key} must be a non-empty id`);
      }
    });
    return resolve(source, args, context, info);
  };
  return schema;
}
