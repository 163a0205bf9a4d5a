import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.js';

/** Where a command writes and what environment it sees (injected so tests can capture output). */
export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream;
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (on: boolean) => unknown };
  env: NodeJS.ProcessEnv;
}

/** Global flags of SPEC.md §4, parsed before the command. */
export interface GlobalOptions {
  json: boolean;
  scheduler: string | undefined;
  token: string | undefined;
  config: string | undefined;
}

/** Everything a command receives besides its own arguments. */
export interface CommandContext {
  io: CliIO;
  global: GlobalOptions;
}

/** One top-level command (`detect`, `models`, `nodes`…). Sub-commands are parsed by the command. */
export interface CommandSpec {
  name: string;
  summary: string;
  /** Usage lines without the leading `yoloscale `. */
  usage: string[];
  examples: string[];
  run(argv: string[], ctx: CommandContext): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `util.parseArgs` with strict checking whose mistakes become {@link UsageError}
 * (exit 2). Positionals are allowed.
 */
export function parseCommandArgs<T extends Options>(argv: string[], options: T, usage?: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0] ?? 'bad arguments', usage);
  }
}

/** Parses a number flag, throwing a usage error naming the flag when it is not finite or out of range. */
export function numberFlag(name: string, value: string | undefined, min = -Infinity, max = Infinity): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a number between ${min} and ${max}, got "${value}"`);
  }
  return n;
}

/** Parses a positive integer flag. */
export function intFlag(name: string, value: string | undefined, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

/** Writes a JSON document followed by a newline. */
export function printJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
