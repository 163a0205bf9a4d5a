/**
 * Spawns real node processes (through tsx) running the cluster's entry
 * points, waits for their ready line, and tears them down with the test.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './env.js';

/** Admin token the test scheduler uses. */
export const TEST_ADMIN_TOKEN = 'test-admin-token';

/** Anything with a teardown hook (a tap test). */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

/** A spawned process. */
export interface Proc {
  child: ChildProcess;
  /** The parsed ready line. */
  info: Record<string, unknown>;
  /** Recent stderr (for failure messages). */
  stderr(): string;
  /** Settles with the exit code or signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal if still running. */
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Runs `script` (relative to the repo root) with tsx, with `env` added,
 * and resolves once it printed a JSON line holding `"ready":true`.
 */
export function spawnReady(t: Teardown | null, script: string, env: Record<string, string>, timeoutMs = 30_000): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, script)], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    err = (err + d).slice(-20_000);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const kill = (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  t?.teardown(async () => {
    kill('SIGKILL');
    await exited;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      kill('SIGKILL');
      reject(new Error(`${script} not ready after ${timeoutMs} ms: ${err.slice(-2000)}`));
    }, timeoutMs);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code ?? signal}) before ready: ${err.slice(-2000)}`));
    }, reject);
    const rl = createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      let info: Record<string, unknown>;
      try {
        info = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (info.ready !== true) return;
      clearTimeout(timer);
      resolve({ child, info, stderr: () => err, exited, kill });
    });
  });
}

/** A scheduler process and its ports. */
export interface SchedulerProc extends Proc {
  workerEndpoint: string;
  clientEndpoint: string;
  adminUrl: string;
  adminPort: number;
}

/** Starts `runScheduler` in its own process on free ports. */
export async function startScheduler(t: Teardown | null, opts: Record<string, unknown> = {}): Promise<SchedulerProc> {
  const p = await spawnReady(t, 'test/helpers/run-scheduler.ts', { YS_SCHEDULER_OPTS: JSON.stringify(opts) });
  return {
    ...p,
    workerEndpoint: `tcp://127.0.0.1:${String(p.info.workerPort)}`,
    clientEndpoint: `tcp://127.0.0.1:${String(p.info.clientPort)}`,
    adminUrl: String(p.info.adminUrl),
    adminPort: Number(p.info.adminPort),
  };
}

/** Starts an (echo-only by default) `runWorker` in its own process. */
export async function startWorker(t: Teardown | null, scheduler: string, opts: Record<string, unknown> = {}, timeoutMs?: number): Promise<Proc> {
  return spawnReady(t, 'test/helpers/run-worker.ts', { YS_WORKER_OPTS: JSON.stringify({ scheduler, ...opts }) }, timeoutMs);
}

/** Calls the admin API with the test token; returns status and parsed JSON. */
export async function admin(base: string, method: string, path: string, token: string | null = TEST_ADMIN_TOKEN): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${base}${path}`, { method, headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* text body (metrics) */
  }
  return { status: res.status, body };
}

/** Polls `check` every 50 ms until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
