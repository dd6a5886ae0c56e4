import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { MaxTokensParserWLexer } from '@escape.tech/graphql-armor-max-tokens';
import { GraphQLError, type GraphQLSchema, type ParseOptions, type Source, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.js';
import { MAX_VALUE_DEPTH, costCache, documentRefusal, valueDepthRule } from '../limits.js';

/**
 * Document limits (contract § Limits), all checked before anything executes and answered with
 * BAD_USER_INPUT:
 * - tokens, while parsing: the lexer stops at the limit, so a 200 KB or 5,000-alias document
 *   costs no more than a small one, and nesting cannot get deep enough to exhaust the stack;
 * - depth, aliases and the nesting of literal values, as validation rules (cached per document);
 * - the estimated cost, before execution, because `first` and `_entities` representations may
 *   come from variables.
 */
export function useDocumentLimits(limits: Config['queryLimits']): Plugin {
  // graphql-armor's rules throw by default; reporting makes them ordinary validation errors
  // (HTTP 400 for GraphQL-over-HTTP clients) and lets every other problem be reported too.
  const report = (context: ValidationContext | null, error: GraphQLError) =>
    context?.reportError(documentRefusal(error.message.replace(/^Syntax Error: /, '')));
  const armor = { exposeLimits: true, propagateOnRejection: false, onReject: [report] };

  const parseWithLimit = (source: string | Source, options?: ParseOptions) => {
    try {
      const parser = new MaxTokensParserWLexer(source, { ...options, n: limits.tokens });
      return parser.parseDocument();
    } catch (error) {
      if (error instanceof GraphQLError && /Token limit/.test(error.message)) {
        throw documentRefusal(`The document has more than ${limits.tokens} tokens; split it into smaller operations`);
      }
      // A safety net below the token limit: deep nesting must never become a 500.
      if (error instanceof RangeError) throw documentRefusal('The document nests too deeply');
      throw error;
    }
  };

  // Built once: a rule makes a fresh visitor for each validation and keeps no state of its own.
  const rules = [
    // Depth counts fields only (fragments do not add a level); introspection's own nesting is exempt.
    maxDepthRule({ ...armor, n: limits.depth, ignoreIntrospection: true, flattenFragments: true }),
    // Every alias counts, `__typename` ones included (graphql-armor exempts them by default).
    maxAliasesRule({ ...armor, n: limits.aliases, allowList: [] }),
    valueDepthRule(MAX_VALUE_DEPTH),
  ];

  const costs = new WeakMap<GraphQLSchema, ReturnType<typeof costCache>>();
  const costOf = (schema: GraphQLSchema) => {
    let cost = costs.get(schema);
    if (!cost) costs.set(schema, (cost = costCache(schema)));
    return cost;
  };

  return {
    onParse({ setParseFn }) {
      setParseFn(parseWithLimit);
    },
    onValidate({ addValidationRule }) {
      for (const rule of rules) addValidationRule(rule);
    },
    onExecute({ args, setResultAndStopExecution }) {
      let cost: number;
      try {
        cost = costOf(args.schema)(args.document, args.operationName, args.variableValues as Record<string, unknown> | undefined);
      } catch {
        // Variables that do not fit the operation: execution refuses them with the precise message.
        return;
      }
      if (cost > limits.cost) {
        setResultAndStopExecution({
          errors: [documentRefusal(`Estimated cost ${cost} exceeds the limit of ${limits.cost}: ask for smaller pages (first) or fewer fields`)],
        });
      }
    },
  };
}
