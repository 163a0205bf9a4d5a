import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
/** `bench/results` of the repository, from the source or the compiled copy in `dist/bench`. */
const RESULTS_DIR = join(resolve(HERE, basename(dirname(HERE)) === 'dist' ? '../..' : '..'), 'bench', 'results');

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

/**
 * Writes a bench result as pretty JSON: to `outFile`, to `bench/results/NAME.json`
 * when `outFile` is undefined, nowhere when it is null (tests).
 */
export async function writeBenchResult(name: string, result: unknown, outFile: string | null | undefined): Promise<void> {
  const out = outFile === undefined ? join(RESULTS_DIR, `${name}.json`) : outFile;
  if (out === null) return;
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
}

/** `v` rounded to `digits` decimals. */
export function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** The upper middle of `values` (the middle one for an odd count; NaN when empty): the median round of a bench. */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** The machine fields every bench result ends with; `loadStart` is the 1-minute load average when the bench began. */
export function machineInfo(loadStart: number): { cpuCores: number; loadAvg: { start: number; end: number }; node: string; date: string } {
  return {
    cpuCores: availableParallelism(),
    loadAvg: { start: round(loadStart), end: round(loadavg()[0] ?? 0) },
    node: process.version,
    date: new Date().toISOString(),
  };
}
