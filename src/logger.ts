import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

/** Removes `stack` at any depth of a serialized error (causes and wrapped errors carry their own). */
function withoutStacks(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutStacks);
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).filter(([key]) => key !== 'stack').map(([key, v]) => [key, withoutStacks(v)]));
}

/**
 * Structured JSON logs. Credentials are redacted by path here, and nothing that logs a request
 * passes raw headers or upstream bodies in the first place. Error stacks are logged in
 * development only: the contract allows no stack trace in any log line outside it.
 */
export function createLogger(config: Pick<Config, 'logLevel'> & Partial<Pick<Config, 'env'>>, destination?: DestinationStream): Logger {
  const keepStacks = config.env === 'development';
  return pino(
    {
      level: config.logLevel,
      base: { service: 'memory-gateway' },
      serializers: {
        err: (error: Error) => (keepStacks ? pino.stdSerializers.err(error) : withoutStacks(pino.stdSerializers.err(error))),
      },
      redact: {
        paths: [
          'authorization',
          'headers.authorization',
          'req.headers.authorization',
          '*.apiKey',
          '*.token',
          '*.secret',
          'settings',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
