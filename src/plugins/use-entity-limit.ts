import { Kind, type DocumentNode, type ValueNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { badInput } from '../errors.js';

/** How many representations `value` holds, reading variables where the document names one. */
function countOf(value: ValueNode, variables: Record<string, unknown> | undefined): number {
  if (value.kind === Kind.LIST) return value.values.length;
  if (value.kind === Kind.VARIABLE) {
    const list = variables?.[value.name.value];
    return Array.isArray(list) ? list.length : 0;
  }
  return 1;
}

/** Representations named by every `_entities` field at the root of the executed operation. */
export function entityRepresentations(document: DocumentNode, operationName: string | null | undefined, variables?: Record<string, unknown>): number {
  let total = 0;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    if (operationName && definition.name?.value !== operationName) continue;
    for (const selection of definition.selectionSet.selections) {
      if (selection.kind !== Kind.FIELD || selection.name.value !== '_entities') continue;
      const argument = selection.arguments?.find((a) => a.name.value === 'representations');
      if (argument) total += countOf(argument.value, variables);
    }
  }
  return total;
}

/**
 * Caps the `_entities` representations one request may name (MAX_ENTITY_REPRESENTATIONS): each
 * can mean a provider call per family, so an unbounded list is an unbounded fan-out. Checked
 * before anything is resolved.
 */
export function useEntityLimit(max: number): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const count = entityRepresentations(args.document, args.operationName, args.variableValues ?? undefined);
      if (count > max) {
        setResultAndStopExecution({
          errors: [badInput('representations', `_entities takes at most ${max} representations per request (got ${count}); split the request`)],
        });
      }
    },
  };
}
