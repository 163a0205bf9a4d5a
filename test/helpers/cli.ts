import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { MODELS_DIR, REPO_ROOT } from './env.js';

/** Result of one CLI run. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Argv that runs the CLI from source in a child process (tsx loader). */
export const CLI_ARGV = ['--import', 'tsx', join(REPO_ROOT, 'cli', 'entry.ts')];

/** Runs `yoloscale ARGS` from source as a real process and collects its output. */
export function runCli(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number; input?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_ARGV, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, YOLOSCALE_MODELS: MODELS_DIR, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}
