import { createPrivateKey } from 'node:crypto';
import { z } from 'zod';

/**
 * The only reader of process.env. Parsed once, frozen, passed to everything else.
 * A bad value stops start-up with one message naming every bad variable.
 */

export const USER_EVENT_BACKENDS = ['local', 'memobase'] as const;
export const USER_MEMORY_BACKENDS = ['local', 'datagrid', 'cortex'] as const;
export const MEMORY_BACKENDS = ['local', 'mielto'] as const;

export type UserEventBackendName = (typeof USER_EVENT_BACKENDS)[number];
export type UserMemoryBackendName = (typeof USER_MEMORY_BACKENDS)[number];
export type MemoryBackendName = (typeof MEMORY_BACKENDS)[number];

const emptyAsUndefined = (value: unknown) => (value === '' ? undefined : value);
const optionalString = z.preprocess(emptyAsUndefined, z.string().optional());
const optionalUrl = z.preprocess(emptyAsUndefined, z.url().optional());
const positiveInt = (fallback: number) => z.preprocess(emptyAsUndefined, z.coerce.number().int().positive().default(fallback));
const optionalPositiveInt = z.preprocess(emptyAsUndefined, z.coerce.number().int().positive().optional());
const urlWithDefault = (fallback: string) => z.preprocess(emptyAsUndefined, z.url().default(fallback));
const nonNegativeInt = (fallback: number) => z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).default(fallback));

/**
 * Above this many tokens a document can nest deeply enough to exhaust the parser's stack
 * (graphql-js parses recursively), so the token limit cannot be raised past it.
 */
const MAX_QUERY_TOKENS_CEILING = 5000;

/** `*`, or a comma-separated list of origins (scheme://host[:port], no path). */
const corsOrigins = z
  .string()
  .transform((value) => value.split(',').map((origin) => origin.trim()).filter(Boolean))
  .refine((origins) => origins.length > 0, { message: 'must be * or a comma-separated list of origins' })
  .refine((origins) => origins.length === 1 || !origins.includes('*'), { message: '* cannot be combined with other origins' })
  .refine((origins) => origins.every((origin) => origin === '*' || /^https?:\/\/[^/\s,]+$/.test(origin)), {
    message: 'each origin must look like https://app.example.com (scheme and host, optional port, no path)',
  });

const EnvSchema = z
  .object({
    NODE_ENV: z.preprocess(emptyAsUndefined, z.enum(['development', 'production', 'test']).default('production')),
    PORT: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).max(65535).default(4000)),
    HOST: z.preprocess(emptyAsUndefined, z.string().default('127.0.0.1')),
    DATABASE_URL: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .default('file:./data/memory-gateway.db')
        .refine((v) => v.startsWith('file:') || /^postgres(ql)?:\/\//.test(v), {
          message: 'must start with file: (SQLite) or postgresql:// (PostgreSQL)',
        })
        .refine((v) => !/^postgres(ql)?:\/\//.test(v) || URL.canParse(v), { message: 'must be a valid URL' })
        // Prisma Migrate (js engine, 6.19) creates the tables in `public` whatever ?schema= says,
        // while the client would look for them in that schema: refuse it rather than split them.
        .refine((v) => !/^postgres(ql)?:\/\//.test(v) || !URL.canParse(v) || !new URL(v).searchParams.has('schema'), {
          message: '?schema= is not supported: give the gateway a database of its own (its tables live in the public schema)',
        }),
    ),
    DATABASE_TIMEOUT_MS: positiveInt(5_000),
    REDIS_URL: z.preprocess(
      emptyAsUndefined,
      z
        .string()
        .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
        .refine((v) => URL.canParse(v), 'must be a valid URL')
        .optional(),
    ),
    LOG_LEVEL: z.preprocess(
      emptyAsUndefined,
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ),
    USER_EVENTS_BACKEND: z.preprocess(emptyAsUndefined, z.enum(USER_EVENT_BACKENDS).default('local')),
    USER_MEMORIES_BACKEND: z.preprocess(emptyAsUndefined, z.enum(USER_MEMORY_BACKENDS).default('local')),
    MEMORIES_BACKEND: z.preprocess(emptyAsUndefined, z.enum(MEMORY_BACKENDS).default('local')),
    MEMOBASE_URL: optionalUrl,
    MEMOBASE_API_KEY: optionalString,
    DATAGRID_URL: urlWithDefault('https://api.datagrid.com/v1'),
    DATAGRID_API_KEY: optionalString,
    DATAGRID_TEAMSPACE: optionalString,
    CORTEX_URL: urlWithDefault('https://api.usecortex.ai'),
    CORTEX_API_KEY: optionalString,
    CORTEX_TENANT_ID: optionalString,
    MIELTO_URL: urlWithDefault('https://api.mielto.com'),
    MIELTO_API_KEY: optionalString,
    MIELTO_WORKSPACE_ID: optionalString,
    UPSTREAM_TIMEOUT_MS: positiveInt(10_000),
    MEMOBASE_TIMEOUT_MS: optionalPositiveInt,
    DATAGRID_TIMEOUT_MS: optionalPositiveInt,
    CORTEX_TIMEOUT_MS: optionalPositiveInt,
    MIELTO_TIMEOUT_MS: optionalPositiveInt,
    UPSTREAM_MAX_RETRIES: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).max(10).default(2)),
    UPSTREAM_RETRY_BUDGET_MS: positiveInt(20_000),
    UPSTREAM_MAX_RETRY_AFTER_MS: positiveInt(10_000),
    UPSTREAM_BREAKER_THRESHOLD: positiveInt(5),
    UPSTREAM_BREAKER_COOLDOWN_MS: positiveInt(30_000),
    CORTEX_API_PATHS: z.preprocess(emptyAsUndefined, z.enum(['user_memory', 'memories']).default('user_memory')),
    GATEWAY_SECRET: z.preprocess(
      emptyAsUndefined,
      z.string().min(32, 'must be at least 32 characters').optional(),
    ),
    JWT_SECRET: z.preprocess(emptyAsUndefined, z.string().min(32, 'must be at least 32 characters').optional()),
    JWT_JWKS_URL: optionalUrl,
    JWT_ISSUER: optionalString,
    JWT_AUDIENCE: optionalString,
    ALLOW_SHARED_UPSTREAM_SCOPE: z.preprocess(emptyAsUndefined, z.enum(['true', 'false']).default('false')),
    MAX_UPSTREAM_CALLS_PER_REQUEST: positiveInt(500),
    MAX_ENTITY_REPRESENTATIONS: positiveInt(200),
    MAX_BODY_BYTES: z.preprocess(emptyAsUndefined, z.coerce.number().int().positive().default(2 * 1024 * 1024)),
    RATE_LIMIT_READS_PER_MIN: nonNegativeInt(1200),
    RATE_LIMIT_WRITES_PER_MIN: nonNegativeInt(300),
    MAX_QUERY_DEPTH: positiveInt(10),
    MAX_QUERY_ALIASES: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).default(30)),
    MAX_QUERY_COST: positiveInt(20_000),
    MAX_QUERY_TOKENS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(100).max(MAX_QUERY_TOKENS_CEILING).default(1000)),
    CORS_ORIGINS: z.preprocess(emptyAsUndefined, corsOrigins.default(['*'])),
    METRICS_PORT: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).max(65535).optional()),
    OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
    OTEL_SERVICE_NAME: z.preprocess(emptyAsUndefined, z.string().default('memory-gateway')),
    RECEIPT_SIGNING_KEY: z.preprocess(emptyAsUndefined, z.string().refine(isEd25519PrivateKey, 'must be a PEM Ed25519 private key').optional()),
    FORGET_LEASE_MS: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(500).default(30_000)),
  })
  .superRefine((env, ctx) => {
    if (env.USER_EVENTS_BACKEND === 'memobase' && !env.MEMOBASE_URL) {
      ctx.addIssue({ code: 'custom', path: ['MEMOBASE_URL'], message: 'required when USER_EVENTS_BACKEND=memobase' });
    }
    if (env.METRICS_PORT !== undefined && env.METRICS_PORT !== 0 && env.METRICS_PORT === env.PORT) {
      ctx.addIssue({ code: 'custom', path: ['METRICS_PORT'], message: 'must differ from PORT: metrics are never served on the public port' });
    }
    if (env.JWT_SECRET && env.JWT_JWKS_URL) {
      ctx.addIssue({ code: 'custom', path: ['JWT_JWKS_URL'], message: 'set JWT_SECRET or JWT_JWKS_URL, not both' });
    }
  });

export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string;
  /**
   * How long a database call may wait for a connection or run before it fails (PostgreSQL: pool
   * connect, statement and read timeouts; SQLite: busy timeout), so an unreachable store fails
   * requests instead of hanging them.
   */
  readonly databaseTimeoutMs: number;
  /** Shared event bus and rate-limit counters across instances; per instance when unset. */
  readonly redisUrl?: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly maxBodyBytes: number;
  readonly defaults: {
    readonly userEvents: UserEventBackendName;
    readonly userMemories: UserMemoryBackendName;
    readonly memories: MemoryBackendName;
  };
  /** Environment defaults for each provider; a tenant's own settings override them. */
  readonly providers: {
    readonly memobase: { readonly url?: string; readonly apiKey?: string; readonly timeoutMs: number };
    readonly datagrid: { readonly url: string; readonly apiKey?: string; readonly teamspace?: string; readonly timeoutMs: number };
    readonly cortex: {
      readonly url: string;
      readonly apiKey?: string;
      readonly tenantId?: string;
      /** `user_memory`: the documented /user_memory/* paths; `memories`: POST /list/data + /memories/delete_memory. */
      readonly paths: 'user_memory' | 'memories';
      readonly timeoutMs: number;
    };
    readonly mielto: { readonly url: string; readonly apiKey?: string; readonly workspaceId?: string; readonly timeoutMs: number };
  };
  readonly upstream: {
    readonly maxRetries: number;
    readonly retryBudgetMs: number;
    readonly maxRetryAfterMs: number;
    readonly breakerThreshold: number;
    readonly breakerCooldownMs: number;
  };
  /** Requests per principal and minute for each class; 0 turns that class's limit off. */
  readonly rateLimits: { readonly readsPerMinute: number; readonly writesPerMinute: number };
  /** What a document may ask for before it is executed (src/plugins/use-document-limits.ts). */
  readonly queryLimits: { readonly depth: number; readonly aliases: number; readonly cost: number; readonly tokens: number };
  /** Origins browsers may call from; `['*']` = any. */
  readonly corsOrigins: readonly string[];
  /** Where Prometheus metrics are served (on HOST); undefined turns metrics off. 0 picks a free port. */
  readonly metricsPort?: number;
  /** OTLP/HTTP trace export; undefined turns tracing off (incoming trace ids are still passed on). */
  readonly tracing?: { readonly endpoint: string; readonly serviceName: string };
  readonly gatewaySecret?: string;
  /** Several tenants may use one upstream scope (and then see each other's data there). */
  readonly allowSharedUpstreamScope: boolean;
  /** Provider calls one request may make, and `_entities` representations one request may name. */
  readonly requestLimits: { readonly upstreamCalls: number; readonly entityRepresentations: number };
  readonly jwt?: { readonly secret?: string; readonly jwksUrl?: string; readonly issuer?: string; readonly audience?: string };
  /** PEM Ed25519 private key that signs forget receipts; when unset one is generated and kept in the store. */
  readonly receiptSigningKey?: string;
  /** How long an instance holds a forget job before another may take it over. */
  readonly forgetLeaseMs: number;
}

function isEd25519PrivateKey(pem: string): boolean {
  try {
    return createPrivateKey(pem).asymmetricKeyType === 'ed25519';
  } catch {
    return false;
  }
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`);
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  return deepFreeze({
    env: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databaseTimeoutMs: e.DATABASE_TIMEOUT_MS,
    redisUrl: e.REDIS_URL,
    logLevel: e.LOG_LEVEL,
    maxBodyBytes: e.MAX_BODY_BYTES,
    defaults: { userEvents: e.USER_EVENTS_BACKEND, userMemories: e.USER_MEMORIES_BACKEND, memories: e.MEMORIES_BACKEND },
    providers: {
      memobase: { url: e.MEMOBASE_URL, apiKey: e.MEMOBASE_API_KEY, timeoutMs: e.MEMOBASE_TIMEOUT_MS ?? e.UPSTREAM_TIMEOUT_MS },
      datagrid: {
        url: e.DATAGRID_URL,
        apiKey: e.DATAGRID_API_KEY,
        teamspace: e.DATAGRID_TEAMSPACE,
        timeoutMs: e.DATAGRID_TIMEOUT_MS ?? e.UPSTREAM_TIMEOUT_MS,
      },
      cortex: {
        url: e.CORTEX_URL,
        apiKey: e.CORTEX_API_KEY,
        tenantId: e.CORTEX_TENANT_ID,
        paths: e.CORTEX_API_PATHS,
        timeoutMs: e.CORTEX_TIMEOUT_MS ?? e.UPSTREAM_TIMEOUT_MS,
      },
      mielto: {
        url: e.MIELTO_URL,
        apiKey: e.MIELTO_API_KEY,
        workspaceId: e.MIELTO_WORKSPACE_ID,
        timeoutMs: e.MIELTO_TIMEOUT_MS ?? e.UPSTREAM_TIMEOUT_MS,
      },
    },
    upstream: {
      maxRetries: e.UPSTREAM_MAX_RETRIES,
      retryBudgetMs: e.UPSTREAM_RETRY_BUDGET_MS,
      maxRetryAfterMs: e.UPSTREAM_MAX_RETRY_AFTER_MS,
      breakerThreshold: e.UPSTREAM_BREAKER_THRESHOLD,
      breakerCooldownMs: e.UPSTREAM_BREAKER_COOLDOWN_MS,
    },
    rateLimits: { readsPerMinute: e.RATE_LIMIT_READS_PER_MIN, writesPerMinute: e.RATE_LIMIT_WRITES_PER_MIN },
    queryLimits: { depth: e.MAX_QUERY_DEPTH, aliases: e.MAX_QUERY_ALIASES, cost: e.MAX_QUERY_COST, tokens: e.MAX_QUERY_TOKENS },
    corsOrigins: e.CORS_ORIGINS,
    metricsPort: e.METRICS_PORT,
    tracing: e.OTEL_EXPORTER_OTLP_ENDPOINT ? { endpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: e.OTEL_SERVICE_NAME } : undefined,
    gatewaySecret: e.GATEWAY_SECRET,
    allowSharedUpstreamScope: e.ALLOW_SHARED_UPSTREAM_SCOPE === 'true',
    requestLimits: { upstreamCalls: e.MAX_UPSTREAM_CALLS_PER_REQUEST, entityRepresentations: e.MAX_ENTITY_REPRESENTATIONS },
    jwt:
      e.JWT_SECRET || e.JWT_JWKS_URL
        ? { secret: e.JWT_SECRET, jwksUrl: e.JWT_JWKS_URL, issuer: e.JWT_ISSUER, audience: e.JWT_AUDIENCE }
        : undefined,
    receiptSigningKey: e.RECEIPT_SIGNING_KEY,
    forgetLeaseMs: e.FORGET_LEASE_MS,
  });
}
