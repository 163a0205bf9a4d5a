import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** True when the module at `metaUrl` is the script Node was started with (`npx tsx bench/NAME.ts`). */
export function isMainModule(metaUrl: string): boolean {
  return Boolean(process.argv[1]) && resolve(process.argv[1]) === fileURLToPath(metaUrl);
}

/** `--name value` flags of a bench script: `get` returns the raw string, `num` a number (both undefined when absent). */
export function scriptFlags(args: readonly string[] = process.argv.slice(2)): { get: (k: string) => string | undefined; num: (k: string) => number | undefined } {
  const get = (k: string) => {
    const i = args.indexOf(`--${k}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const num = (k: string) => (get(k) === undefined ? undefined : Number(get(k)));
  return { get, num };
}
