import { builder } from './builder.js';
import './types/common.js';
import './types/user-events.js';
import './types/user-memories.js';
import './types/memories.js';
import './types/user.js';
import './types/audit.js';
import './types/bulk.js';
import './types/changes.js';
import './types/forget.js';

import type { GraphQLObjectType, GraphQLSchema } from 'graphql';
import { guardEntityRepresentations } from './entities.js';

/** The federation spec version the subgraph links; composition and routers read it from `@link`. */
export const FEDERATION_LINK_URL = 'https://specs.apollo.dev/federation/v2.6';

let schema: GraphQLSchema | undefined;
let subgraphSchema: GraphQLSchema | undefined;

/** The client-facing schema (schema/schema.graphql), built from the type modules on first use. */
export function getSchema(): GraphQLSchema {
  schema ??= builder.toSchema({ sortSchema: true });
  return schema;
}

/**
 * The schema served on /graphql: the client-facing one plus what a federation router needs
 * (`_service { sdl }`, `_entities` for `User`, the `@link` and `@key` directives).
 */
export function getSubgraphSchema(): GraphQLSchema {
  subgraphSchema ??= guardEntityRepresentations(
    describeFederationFields(builder.toSubGraphSchema({ linkUrl: FEDERATION_LINK_URL, sortSchema: true })),
  );
  return subgraphSchema;
}

/**
 * The federation plugin adds the spec's fields and types without descriptions; GraphiQL shows
 * them next to ours, so they get one too. Descriptions do not affect composition.
 */
function describeFederationFields(schema: GraphQLSchema): GraphQLSchema {
  const query = schema.getQueryType();
  const fields = query?.getFields() ?? {};
  const describe = (target: { description?: string | null } | undefined | null, text: string) => {
    if (target && !target.description) target.description = text;
  };
  describe(fields._service, 'For federation routers: this subgraph\'s SDL with its federation directives.');
  describe(fields._entities, 'For federation routers: resolves `User` entities by their `@key` (the user id).');
  describe(fields._entities?.args.find((a) => a.name === 'representations'), 'Entity references, e.g. { __typename: "User", id: "…" }.');
  describe(schema.getType('_Service'), 'What `_service` returns to a federation router.');
  describe((schema.getType('_Service') as GraphQLObjectType | undefined)?.getFields?.().sdl, 'The subgraph SDL.');
  describe(schema.getType('_Entity'), 'The entity types this subgraph resolves.');
  describe(schema.getType('_Any'), 'An entity reference passed to `_entities`.');
  return schema;
}
