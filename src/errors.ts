import { GraphQLError } from 'graphql';

/** The closed set of `extensions.code` values of the public contract. */
export const ERROR_CODES = [
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'RATE_LIMITED',
  'NOT_SUPPORTED',
  'UPSTREAM_ERROR',
  'UPSTREAM_TIMEOUT',
  'UPSTREAM_UNAVAILABLE',
  'INTERNAL_SERVER_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface AppErrorExtras {
  field?: string;
  provider?: string;
  upstreamStatus?: number;
  retryAfter?: number;
}

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  RATE_LIMITED: 429,
};

/**
 * The one error family clients see. Anything thrown that is not an AppError is masked by Yoga
 * into INTERNAL_SERVER_ERROR (see server.ts).
 */
export class AppError extends GraphQLError {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, extras: AppErrorExtras = {}, status: number | undefined = HTTP_STATUS[code]) {
    const headers: Record<string, string> = {};
    if (code === 'UNAUTHENTICATED') headers['WWW-Authenticate'] = 'Bearer';
    if (extras.retryAfter !== undefined && code === 'RATE_LIMITED') headers['Retry-After'] = String(extras.retryAfter);
    const extensions: Record<string, unknown> = { code };
    for (const [key, value] of Object.entries(extras)) if (value !== undefined) extensions[key] = value;
    // Yoga reads `extensions.http` for the response status and headers and strips it from the body.
    if (status) extensions.http = { status, headers };
    super(message, { extensions });
    this.name = 'AppError';
    this.code = code;
  }
}

export const badInput = (field: string, message: string) => new AppError('BAD_USER_INPUT', message, { field });

export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);

export const forbidden = (message: string) => new AppError('FORBIDDEN', message);

export const unauthenticated = (message: string) => new AppError('UNAUTHENTICATED', message);

export const notSupported = (provider: string, operation: string) =>
  new AppError('NOT_SUPPORTED', `${provider} does not support ${operation}`, { provider });

/**
 * The store (SQLite or PostgreSQL) did not answer in time. Not a bug of the request: HTTP 503, so
 * clients and load balancers retry; nothing about the database is told.
 */
export const storeUnavailable = () => new AppError('INTERNAL_SERVER_ERROR', 'The store is unavailable; try again shortly', {}, 503);

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
