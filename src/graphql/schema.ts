import { builder } from './builder.js';
import './types/common.js';
import './types/user-events.js';
import './types/user-memories.js';
import './types/memories.js';
import './types/user.js';
import './types/audit.js';

import type { GraphQLSchema } from 'graphql';

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
  subgraphSchema ??= builder.toSubGraphSchema({ linkUrl: FEDERATION_LINK_URL, sortSchema: true });
  return subgraphSchema;
}
