import { pino } from 'pino';

/**
 * The logging interface library code takes (pino-compatible). Library code
 * never calls `console.log`; processes create a pino logger in `main` and
 * pass it down. Keys and tokens are never logged.
 */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** A logger that drops everything (the default for library objects and tests). */
export const silentLogger: Logger = Object.freeze({
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
});

/**
 * Creates the process logger: JSON lines on stderr, level from
 * `YOLOSCALE_LOG_LEVEL` (default `info`), with auth headers redacted.
 */
export function createLogger(name: string, level = process.env.YOLOSCALE_LOG_LEVEL ?? 'info'): Logger {
  return pino(
    {
      name,
      level,
      redact: ['req.headers.authorization', 'req.headers["x-auth-token"]', 'key', 'token', 'apiKey'],
    },
    pino.destination(2),
  ) as unknown as Logger;
}
