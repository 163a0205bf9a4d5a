/** A Logger that keeps its records in memory, for tests that assert on log lines. */
import type { Logger } from '../../protocol/index.js';

/** One captured record. */
export type LogLine = { level: string; obj: Record<string, unknown>; msg?: string };

/** A logger (children included) that appends every record to `lines`. */
export function captureLogger(lines: LogLine[]): Logger {
  const at = (level: string) => (obj: object | string, msg?: string) => void lines.push(typeof obj === 'string' ? { level, obj: {}, msg: obj } : { level, obj: obj as Record<string, unknown>, msg });
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}
