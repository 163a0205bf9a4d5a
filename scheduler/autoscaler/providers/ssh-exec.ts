import { spawn } from 'node:child_process';
import type { InventoryHost } from './inventory.js';

/**
 * Runs one command on a host through the system OpenSSH client, never
 * prompting (BatchMode), with a connect timeout and a hard deadline after
 * which the client is killed, so an unresponsive host never leaks a process.
 */

/** Outcome of {@link sshExec}. */
export interface SshResult {
  /** Exit status of the remote command; 255 is the ssh client's own failure. */
  code: number;
  stdout: string;
  stderr: string;
  /** True when the deadline killed the client. */
  timedOut: boolean;
}

/** Options of {@link sshExec}. */
export interface SshExecOptions {
  /** Whole-command deadline (default connect timeout + 30 s). */
  timeoutMs?: number;
  /** The ssh binary (default `ssh`). */
  sshPath?: string;
  /** Aborts the command (the client is killed). */
  signal?: AbortSignal;
}

/** The ssh argv for `host` (without the remote command). */
export function sshArgs(host: InventoryHost): string[] {
  const args = [
    '-o', 'BatchMode=yes',
    '-o', `ConnectTimeout=${host.connectTimeoutS}`,
    '-o', 'ServerAliveInterval=5',
    '-o', 'ServerAliveCountMax=2',
    '-o', 'StrictHostKeyChecking=accept-new',
    '-o', 'LogLevel=ERROR',
    '-p', String(host.port),
  ];
  if (host.knownHostsFile) args.push('-o', `UserKnownHostsFile=${host.knownHostsFile}`);
  if (host.identityFile) args.push('-o', 'IdentitiesOnly=yes', '-i', host.identityFile);
  args.push(host.user ? `${host.user}@${host.address}` : host.address);
  return args;
}

/** Runs `command` on `host`; resolves with its status and output (never rejects for remote failures). */
export function sshExec(host: InventoryHost, command: string, opts: SshExecOptions = {}): Promise<SshResult> {
  const timeoutMs = opts.timeoutMs ?? host.connectTimeoutS * 1000 + 30_000;
  return new Promise((resolve) => {
    const child = spawn(opts.sshPath ?? 'ssh', [...sshArgs(host), '--', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const cap = (s: string, add: Buffer): string => (s.length > 65_536 ? s : s + add.toString('utf8'));
    child.stdout.on('data', (b: Buffer) => (stdout = cap(stdout, b)));
    child.stderr.on('data', (b: Buffer) => (stderr = cap(stderr, b)));
    const kill = (): void => {
      timedOut = true;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(kill, timeoutMs);
    const onAbort = (): void => kill();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = (code: number, extra = ''): void => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({ code, stdout, stderr: stderr + extra, timedOut });
    };
    child.once('error', (err) => done(255, err.message));
    child.once('close', (code) => done(code ?? 255));
  });
}
