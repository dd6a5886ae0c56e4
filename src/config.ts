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
const urlWithDefault = (fallback: string) => z.preprocess(emptyAsUndefined, z.url().default(fallback));

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
        }),
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
    GATEWAY_SECRET: z.preprocess(
      emptyAsUndefined,
      z.string().min(32, 'must be at least 32 characters').optional(),
    ),
    JWT_SECRET: z.preprocess(emptyAsUndefined, z.string().min(32, 'must be at least 32 characters').optional()),
    JWT_JWKS_URL: optionalUrl,
    JWT_ISSUER: optionalString,
    JWT_AUDIENCE: optionalString,
    MAX_BODY_BYTES: z.preprocess(emptyAsUndefined, z.coerce.number().int().positive().default(2 * 1024 * 1024)),
  })
  .superRefine((env, ctx) => {
    if (env.JWT_SECRET && env.JWT_JWKS_URL) {
      ctx.addIssue({ code: 'custom', path: ['JWT_JWKS_URL'], message: 'set JWT_SECRET or JWT_JWKS_URL, not both' });
    }
  });

export interface Config {
  readonly env: 'development' | 'production' | 'test';
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  readonly maxBodyBytes: number;
  readonly defaults: {
    readonly userEvents: UserEventBackendName;
    readonly userMemories: UserMemoryBackendName;
    readonly memories: MemoryBackendName;
  };
  readonly providers: {
    readonly memobase: { readonly url?: string; readonly apiKey?: string };
    readonly datagrid: { readonly url: string; readonly apiKey?: string; readonly teamspace?: string };
    readonly cortex: { readonly url: string; readonly apiKey?: string; readonly tenantId?: string };
    readonly mielto: { readonly url: string; readonly apiKey?: string; readonly workspaceId?: string };
  };
  readonly gatewaySecret?: string;
  readonly jwt?: { readonly secret?: string; readonly jwksUrl?: string; readonly issuer?: string; readonly audience?: string };
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
    logLevel: e.LOG_LEVEL,
    maxBodyBytes: e.MAX_BODY_BYTES,
    defaults: { userEvents: e.USER_EVENTS_BACKEND, userMemories: e.USER_MEMORIES_BACKEND, memories: e.MEMORIES_BACKEND },
    providers: {
      memobase: { url: e.MEMOBASE_URL, apiKey: e.MEMOBASE_API_KEY },
      datagrid: { url: e.DATAGRID_URL, apiKey: e.DATAGRID_API_KEY, teamspace: e.DATAGRID_TEAMSPACE },
      cortex: { url: e.CORTEX_URL, apiKey: e.CORTEX_API_KEY, tenantId: e.CORTEX_TENANT_ID },
      mielto: { url: e.MIELTO_URL, apiKey: e.MIELTO_API_KEY, workspaceId: e.MIELTO_WORKSPACE_ID },
    },
    gatewaySecret: e.GATEWAY_SECRET,
    jwt:
      e.JWT_SECRET || e.JWT_JWKS_URL
        ? { secret: e.JWT_SECRET, jwksUrl: e.JWT_JWKS_URL, issuer: e.JWT_ISSUER, audience: e.JWT_AUDIENCE }
        : undefined,
  });
}
