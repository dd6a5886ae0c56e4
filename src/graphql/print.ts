import { printSubgraphSchema } from '@apollo/subgraph';
import { buildASTSchema, lexicographicSortSchema, parse, printSchema, visit, type DefinitionNode, type DocumentNode } from 'graphql';
import { getSchema, getSubgraphSchema } from './schema.js';

/** The public SDL as committed in schema/schema.graphql: sorted, so diffs show real changes. */
export function printPublicSchema(): string {
  return `${printSchema(lexicographicSortSchema(getSchema()))}\n`;
}

/**
 * The subgraph SDL with its federation directives, as committed in schema/subgraph.graphql and
 * as composition tools read it. `printSubgraphSchema` prints from the AST nodes the directives
 * plugin attaches in declaration order, which `lexicographicSortSchema` leaves untouched; so
 * the printed document is sorted and printed once more from a schema built on the sorted AST.
 */
export function printSubgraphSdl(): string {
  return sortedSubgraphSdl(printSubgraphSchema(lexicographicSortSchema(getSubgraphSchema())));
}

/** A subgraph SDL, in name order, as `printSubgraphSchema` formats it. */
export function sortedSubgraphSdl(sdl: string): string {
  // The federation directives are used but not defined in a subgraph SDL, hence assumeValidSDL.
  const schema = buildASTSchema(sortDocument(parse(sdl, { noLocation: true })), { assumeValidSDL: true });
  return `${printSubgraphSchema(schema)}\n`;
}

// Ordinal, so the order does not depend on the machine's locale.
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

const byName = <T extends { readonly name: { readonly value: string } }>(nodes: readonly T[] | undefined) =>
  nodes && [...nodes].sort((a, b) => compare(a.name.value, b.name.value));

const definitionName = (node: DefinitionNode) => ('name' in node && node.name ? node.name.value : '');

/** An SDL document with its types, fields, arguments, enum values and members in name order. */
function sortDocument(document: DocumentNode): DocumentNode {
  return visit(document, {
    Document: {
      leave: (node) => ({
        ...node,
        // `schema`/`extend schema` (no name) first, then everything by name.
        definitions: [...node.definitions].sort((a, b) => compare(definitionName(a), definitionName(b))),
      }),
    },
    FieldDefinition: { leave: (node) => ({ ...node, arguments: byName(node.arguments) }) },
    DirectiveDefinition: { leave: (node) => ({ ...node, arguments: byName(node.arguments) }) },
    ObjectTypeDefinition: { leave: (node) => ({ ...node, fields: byName(node.fields), interfaces: byName(node.interfaces) }) },
    InterfaceTypeDefinition: { leave: (node) => ({ ...node, fields: byName(node.fields), interfaces: byName(node.interfaces) }) },
    InputObjectTypeDefinition: { leave: (node) => ({ ...node, fields: byName(node.fields) }) },
    EnumTypeDefinition: { leave: (node) => ({ ...node, values: byName(node.values) }) },
    UnionTypeDefinition: { leave: (node) => ({ ...node, types: byName(node.types) }) },
  });
}

