import { Writable } from 'node:stream';
import { createApp, type App, type AppOptions } from '../../src/app.js';
import { createApiKey } from '../../src/auth/api-keys.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { testDatabase, type TestStore } from './databases.js';

export interface GraphQLResponse<TData = Record<string, any>> {
  status: number;
  headers: Headers;
  body: {
    data?: TData | null;
    errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
  };
}

export interface TestGateway {
  app: App;
  config: Config;
  /** Every SQL statement Prisma sent, in order; clear it with `sql.length = 0`. */
  sql: string[];
  /** Every log line the gateway wrote (JSON strings). */
  logs: string[];
  /** A raw request through the real HTTP layer (Yoga's fetch), for bodies that are not GraphQL. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** A GraphQL request as a client sends it. */
  execute<TData = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { token?: string | null; headers?: Record<string, string> },
  ): Promise<GraphQLResponse<TData>>;
  /** Creates a tenant API key the way `keys create` does and returns the key. */
  createKey(tenant: string): Promise<string>;
  close(): Promise<void>;
}

export interface StartGatewayOptions extends AppOptions {
  /** The local store to give the gateway a fresh database on (default SQLite); ignored when `env` names a DATABASE_URL. */
  store?: TestStore;
}

/**
 * A gateway built from the real parts (config parser, Prisma on a database of its own, Yoga) and
 * driven in-process through yoga.fetch. `env` is what the process environment would hold.
 */
export async function startGateway(env: Record<string, string> = {}, options: StartGatewayOptions = {}): Promise<TestGateway> {
  const { store = 'sqlite', ...appOptions } = options;
  const database = env.DATABASE_URL ? undefined : await testDatabase(store);
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: database?.url,
    // Tests seed hundreds of items a minute; the rate limits have their own tests, which set them.
    RATE_LIMIT_READS_PER_MIN: '0',
    RATE_LIMIT_WRITES_PER_MIN: '0',
    ...env,
  });
  const sql: string[] = [];
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const logger = createLogger(config, sink);
  const app = await createApp(config, logger, {
    ...appOptions,
    onQuery: (query, params) => {
      sql.push(query);
      appOptions.onQuery?.(query, params);
    },
  });

  const fetch = async (path: string, init?: RequestInit) => app.server.fetch(new Request(`http://gateway.test${path}`, init));

  return {
    app,
    config,
    sql,
    logs,
    fetch,
    async execute(query, variables, { token, headers = {} } = {}) {
      const response = await fetch('/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      const text = await response.text();
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        throw new Error(`Response is not JSON (HTTP ${response.status}):\n${text}\n\nQuery:\n${query}`);
      }
      return { status: response.status, headers: response.headers, body };
    },
    async createKey(tenant) {
      return (await createApiKey(app.prisma, tenant)).key;
    },
    async close() {
      await app.close();
      await database?.drop();
    },
  };
}

/** The data of a response that must have succeeded; prints the query and the errors otherwise. */
export function dataOf<TData>(response: GraphQLResponse<TData>, query?: string): TData {
  if (response.body.errors?.length || !response.body.data) {
    throw new Error(
      `Expected data, got HTTP ${response.status}:\n${JSON.stringify(response.body, null, 2)}${query ? `\n\nQuery:\n${query}` : ''}`,
    );
  }
  return response.body.data;
}

/** The single error of a response that must have failed. */
export function errorOf(response: GraphQLResponse) {
  const errors = response.body.errors ?? [];
  if (errors.length !== 1) {
    throw new Error(`Expected exactly one error, got HTTP ${response.status}:\n${JSON.stringify(response.body, null, 2)}`);
  }
  return errors[0]!;
}
