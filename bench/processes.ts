/**
 * Child processes for the cluster benchmarks: each runs one entry of
 * bench/entries/ (through tsx when running from sources) and prints a JSON
 * ready line.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { clusterNodeFlags, clusterV8Flags } from '../protocol/v8-flags.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const FROM_SOURCES = import.meta.url.endsWith('.ts');

/** A running benchmark process. */
export interface BenchProc {
  child: ChildProcess;
  info: Record<string, unknown>;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it exited. */
  stop(): Promise<void>;
}

/** Starts `bench/entries/NAME` with a JSON options env var and waits for its ready line. */
export function startEntry(name: string, opts: Record<string, unknown>, timeoutMs = 60_000): Promise<BenchProc> {
  const file = join(HERE, 'entries', `${name}${FROM_SOURCES ? '.ts' : '.js'}`);
  // YS_BENCH_NODE_ARGS adds node flags to every child (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
  // The cluster's own V8 flags come first, so a benchmark measures what `yoloscale` runs.
  const nodeArgs = [...clusterNodeFlags(), ...clusterV8Flags(), ...(process.env.YS_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const child = spawn(process.execPath, [...nodeArgs, ...(FROM_SOURCES ? ['--import', 'tsx'] : []), file], {
    env: { ...process.env, YS_BENCH_OPTS: JSON.stringify(opts) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    stderr = (stderr + d).slice(-10_000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`bench entry ${name} not ready after ${timeoutMs} ms: ${stderr.slice(-1000)}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`bench entry ${name} exited (${code ?? signal}): ${stderr.slice(-1000)}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const info = JSON.parse(line) as Record<string, unknown>;
        if (info.ready !== true) return;
        clearTimeout(timer);
        resolve({ child, info, stop });
      } catch {
        /* not the ready line */
      }
    });
  });
}
