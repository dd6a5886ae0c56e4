import { builder } from './builder.js';
import './types/common.js';
import './types/user-events.js';
import './types/user-memories.js';
import './types/memories.js';
import './types/user.js';
import './types/audit.js';

import type { GraphQLSchema } from 'graphql';

let schema: GraphQLSchema | undefined;

/** The executable schema, built from the type modules on first use. */
export function getSchema(): GraphQLSchema {
  schema ??= builder.toSchema({ sortSchema: true });
  return schema;
}
