import pino, { type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

/**
 * Structured JSON logs. Credentials are redacted by path here, and nothing that logs a request
 * passes raw headers or upstream bodies in the first place.
 */
export function createLogger(config: Pick<Config, 'logLevel'>, destination?: DestinationStream): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { service: 'memory-gateway' },
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
