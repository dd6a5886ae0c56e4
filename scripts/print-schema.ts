import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printPublicSchema, printSubgraphSdl } from '../src/graphql/print.js';

// Writes the committed SDL files; `npm test` fails when they drift from the code.
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
writeFileSync(join(root, 'schema', 'schema.graphql'), printPublicSchema());
console.log('wrote schema/schema.graphql');
writeFileSync(join(root, 'schema', 'subgraph.graphql'), printSubgraphSdl());
console.log('wrote schema/subgraph.graphql');
