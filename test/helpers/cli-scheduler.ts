// A real `yoloscale scheduler` process (its SQLite ledger in a fresh data
// directory, free ports, a known admin token), stopped and cleaned at teardown.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_ARGV, runCli } from './cli.js';
import type { CliRun } from './cli.js';
import { REPO_ROOT } from './env.js';
import { freePorts } from './ports.js';
import type { Teardown } from './processes.js';
import { until } from './wait.js';

/** A running scheduler command. */
export interface CliScheduler {
  adminPort: number;
  adminToken: string;
  dataDir: string;
  /** Environment pointing the CLI (and a gateway sharing the ledger) at it. */
  env: Record<string, string>;
  cli(args: string[]): Promise<CliRun>;
}

/** Starts `yoloscale scheduler` and waits for its admin API (60 s at most). */
export async function startCliScheduler(t: Teardown, adminToken = 'cli-test-admin-token'): Promise<CliScheduler> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ys-scheduler-'));
  const [adminPort, workerPort, clientPort] = await freePorts(3);
  const env = {
    YOLOSCALE_DATA_DIR: dataDir,
    YOLOSCALE_ADMIN_PORT: String(adminPort),
    YOLOSCALE_WORKER_PORT: String(workerPort),
    YOLOSCALE_CLIENT_PORT: String(clientPort),
    YOLOSCALE_ADMIN_TOKEN: adminToken,
    YOLOSCALE_SCHEDULER: `http://127.0.0.1:${adminPort}`,
    YOLOSCALE_LOG_LEVEL: 'warn',
  };
  const scheduler = spawn(process.execPath, [...CLI_ARGV, 'scheduler'], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  scheduler.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => scheduler.once('exit', () => r()));
  t.teardown(async () => {
    if (scheduler.exitCode === null) scheduler.kill('SIGTERM');
    const timer = setTimeout(() => scheduler.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    rmSync(dataDir, { recursive: true, force: true });
  });
  await until(async () => (await fetch(`http://127.0.0.1:${adminPort}/healthz`).catch(() => null))?.status === 200, 60_000).catch((err: unknown) => {
    throw new Error(`scheduler did not come up: ${stderr}`, { cause: err });
  });
  return { adminPort, adminToken, dataDir, env, cli: (args) => runCli(args, { env }) };
}
