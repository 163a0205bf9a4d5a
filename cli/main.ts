import { isYoloscaleError } from '../protocol/index.js';
import type { CliIO, CommandContext, CommandSpec, GlobalOptions } from './context.js';
import { UsageError } from './errors.js';
import { COMMANDS } from './commands/index.js';

const GLOBAL_USAGE = 'usage: yoloscale [--json] [--scheduler URL] [--token TOKEN] [--config FILE] COMMAND [ARGS]';

/** Splits global flags (anywhere before or after the command) from the command's own arguments. */
function splitGlobals(argv: string[]): { global: GlobalOptions; rest: string[]; help: boolean } {
  const global: GlobalOptions = { json: false, scheduler: undefined, token: undefined, config: undefined };
  const rest: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`, GLOBAL_USAGE);
      return v;
    };
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    } else if (flag === '--json') global.json = true;
    else if (flag === '--scheduler') global.scheduler = value();
    else if (flag === '--token') global.token = value();
    else if (flag === '--help' || flag === '-h') help = true;
    else {
      if (flag === '--config') global.config = inline ?? argv[i + 1];
      rest.push(a);
    }
  }
  return { global, rest, help };
}

/** Full help text: every command with its usage lines. */
export function helpText(commands: readonly CommandSpec[] = COMMANDS): string {
  const width = Math.max(0, ...commands.map((c) => c.name.length));
  return [
    GLOBAL_USAGE,
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global flags: --json (machine-readable output), --scheduler URL (admin API, env YOLOSCALE_SCHEDULER),',
    '  --token TOKEN (admin token, env YOLOSCALE_ADMIN_TOKEN). `yoloscale COMMAND --help` shows a command.',
    '',
  ].join('\n');
}

/** Help of one command: usage lines and examples. */
export function commandHelp(c: CommandSpec): string {
  return [
    `${c.summary}`,
    '',
    'Usage:',
    ...c.usage.map((u) => `  yoloscale ${u}`),
    ...(c.examples.length ? ['', 'Examples:', ...c.examples.map((e) => `  ${e}`)] : []),
    '',
  ].join('\n');
}

/**
 * Runs the CLI on `argv` (without node and script) and returns the exit
 * status: 0 ok, 1 failure, 2 usage error. Errors are one line on stderr.
 */
export async function main(argv: string[], io: CliIO = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }): Promise<number> {
  let parsed: ReturnType<typeof splitGlobals>;
  try {
    parsed = splitGlobals(argv);
  } catch (err) {
    io.stderr.write(`yoloscale: ${(err as Error).message}\n${GLOBAL_USAGE}\n`);
    return 2;
  }
  const [name, ...args] = parsed.rest;
  if (!name) {
    (parsed.help ? io.stdout : io.stderr).write(helpText());
    return parsed.help ? 0 : 2;
  }
  if (name === 'help') {
    const c = COMMANDS.find((x) => x.name === args[0]);
    io.stdout.write(c ? commandHelp(c) : helpText());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.stderr.write(`yoloscale: unknown command "${name}"\n${GLOBAL_USAGE}\n`);
    return 2;
  }
  if (parsed.help) {
    io.stdout.write(commandHelp(command));
    return 0;
  }
  const ctx: CommandContext = { io, global: parsed.global };
  try {
    return await command.run(args, ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`yoloscale ${name}: ${err.message}\nusage: yoloscale ${err.usage ?? command.usage[0]}\n`);
      return 2;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.stderr.write(`yoloscale ${name}: ${isYoloscaleError(err) && err.code !== 'internal' ? `${message} (${err.code})` : message}\n`);
    if (io.env.YOLOSCALE_DEBUG) io.stderr.write(`${(err as Error).stack ?? ''}\n`);
    return 1;
  }
}
