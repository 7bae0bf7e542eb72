import os from 'node:os';
import pino, { type LoggerOptions } from 'pino';
import type { Config } from '../config';

/**
 * pino settings shared by the API (Fastify's logger) and the workers: one JSON object per line,
 * secrets and tokens censored, pino-pretty only when a human is watching (LOG_FORMAT=auto and
 * stdout is a TTY, or LOG_FORMAT=pretty, which `npm start` sets when its own terminal is a TTY).
 */

/**
 * Paths pino censors wherever they occur in a log object (`*` = one level of nesting). Fastify's
 * request serializer logs no headers, but a plugin logging `request.headers` or an error carrying
 * a config object must not leak them either.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'authorization',
  'password',
  'secret',
  'token',
  'accessToken',
  'refreshToken',
  'apiKey',
  'JWT_SECRET',
  'DATABASE_URL',
  'REDIS_URL',
  '*.authorization',
  '*.cookie',
  '*.password',
  '*.secret',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.apiKey',
  '*.JWT_SECRET',
  '*.JWT_PUBLIC_KEY',
  '*.DATABASE_URL',
  '*.REDIS_URL',
];

export const REDACTED = '[redacted]';

/** Whether logs go through pino-pretty. */
export function prettyLogs(format: Config['LOG_FORMAT'], stdout: { isTTY?: boolean } = process.stdout): boolean {
  if (format === 'pretty') return true;
  if (format === 'json') return false;
  return stdout.isTTY === true;
}

export function loggerOptions(
  config: Pick<Config, 'LOG_LEVEL' | 'LOG_FORMAT'>,
  service: string,
  extraBase: Record<string, unknown> = {},
): LoggerOptions {
  return {
    level: config.LOG_LEVEL,
    base: { pid: process.pid, hostname: os.hostname(), service, ...extraBase },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    // Temporal passes failures under `error`: keep their message and stack in the JSON line
    serializers: { error: pino.stdSerializers.err },
    ...(prettyLogs(config.LOG_FORMAT)
      ? {
          transport: {
            // resolved here: pino would resolve a bare name from its caller's location
            target: require.resolve('pino-pretty'),
            options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', singleLine: false },
          },
        }
      : {}),
  };
}
