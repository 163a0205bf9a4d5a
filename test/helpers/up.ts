// A real `yoloscale up` on free ports for the CLI tests: started, its JSON
// report read, killed (with every child) and its data directory removed at teardown.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI_ARGV, runCli } from './cli.js';
import type { CliRun } from './cli.js';
import { MODELS_DIR, REPO_ROOT } from './env.js';
import { freePorts } from './ports.js';
import type { Teardown } from './processes.js';

/** What `up --json` reports. */
export interface UpInfo {
  ready: boolean;
  adminToken: string;
  demoKey: string | null;
  demoTenant: string | null;
  [k: string]: unknown;
}

/** A running `up`. */
export interface UpCluster {
  info: UpInfo;
  /** Environment pointing the CLI at this cluster. */
  env: Record<string, string>;
  port: number;
  adminPort: number;
  dataDir: string;
  proc: ChildProcess;
  /** Runs the CLI against this cluster. */
  cli(args: string[]): Promise<CliRun>;
  /** Resolves with the exit code of `up`. */
  exited: Promise<number | null>;
}

/** Starts `yoloscale up ARGS --json` and waits for its report (90 s at most). */
export async function startUp(t: Teardown, args: string[], extraEnv: Record<string, string> = {}): Promise<UpCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ys-up-'));
  const [port, adminPort, workerPort, clientPort] = await freePorts(4);
  const env = {
    YOLOSCALE_MODELS: MODELS_DIR,
    YOLOSCALE_DATA_DIR: dataDir,
    YOLOSCALE_PORT: String(port),
    YOLOSCALE_ADMIN_PORT: String(adminPort),
    YOLOSCALE_WORKER_PORT: String(workerPort),
    YOLOSCALE_CLIENT_PORT: String(clientPort),
    YOLOSCALE_SCHEDULER: `http://127.0.0.1:${adminPort}`,
    ...extraEnv,
  };
  const proc = spawn(process.execPath, [...CLI_ARGV, 'up', ...args, '--json'], { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  t.teardown(async () => {
    if (proc.exitCode === null) {
      // SIGTERM first so `up` stops its children (the scheduler stops its local workers).
      proc.kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), new Promise((r) => setTimeout(() => r(false), 20_000))]);
      if (!done) {
        proc.kill('SIGKILL');
        await exited;
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  });
  const info = await new Promise<UpInfo>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`up did not report within 90 s: ${out}`)), 90_000);
    proc.stdout?.on('data', () => {
      try {
        const parsed = JSON.parse(out) as UpInfo;
        clearTimeout(timer);
        resolve(parsed);
      } catch {
        // not complete yet
      }
    });
  });
  return { info, env, port, adminPort, dataDir, proc, exited, cli: (a) => runCli(a, { env }) };
}
