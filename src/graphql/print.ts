import { lexicographicSortSchema, printSchema } from 'graphql';
import { getSchema } from './schema.js';

/** The public SDL as committed in schema/schema.graphql: sorted, so diffs show real changes. */
export function printPublicSchema(): string {
  return `${printSchema(lexicographicSortSchema(getSchema()))}\n`;
}
