import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { MAX_VALUE_DEPTH, documentRefusal, jsonDeeperThan, refusal } from '../limits.js';

/**
 * POST bodies a browser may send cross-site without a CORS preflight ("simple requests"). The
 * gateway never reads them: a page on another site could otherwise make a visitor's browser run
 * operations. Tokens are not cookies, but a refusal costs nothing and closes the door.
 */
const SIMPLE_REQUEST_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

/**
 * What the HTTP edge refuses before GraphQL sees a request: form and multipart bodies (415),
 * parameters the request parser cannot read (GET `variables={`, a bad `extensions`: 400, not 500),
 * and JSON variables or extensions nested deeper than any real value (400).
 */
export function useRequestGuards(): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, endResponse, fetchAPI }) {
      if (request.method === 'POST') {
        const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
        if (SIMPLE_REQUEST_TYPES.includes(type)) {
          endResponse(refusal(fetchAPI, 415, `Unsupported Content-Type ${type}: send the request as application/json`));
          return;
        }
      }
      if (!requestParser) return;
      // Yoga's parsers raise plain errors for unreadable parameters; those are the caller's input.
      setRequestParser(async (req) => {
        let result: Awaited<ReturnType<typeof requestParser>>;
        try {
          result = await requestParser(req);
        } catch (error) {
          if (error instanceof GraphQLError) throw error;
          return refusal(fetchAPI, 400, 'The request parameters are not valid JSON: send variables and extensions as JSON objects');
        }
        // Yoga reads each operation of a batch as an object and fails on a null one.
        if (Array.isArray(result) && result.some((params) => params === null || typeof params !== 'object' || Array.isArray(params))) {
          return refusal(fetchAPI, 400, 'Each operation of a batch must be a JSON object with a query');
        }
        return result;
      });
    },
    onParams({ params, setResult }) {
      if (jsonDeeperThan(params.variables, MAX_VALUE_DEPTH) || jsonDeeperThan(params.extensions, MAX_VALUE_DEPTH)) {
        setResult({ errors: [documentRefusal(`Variables and extensions may nest at most ${MAX_VALUE_DEPTH} levels deep`)] });
      }
    },
  };
}
