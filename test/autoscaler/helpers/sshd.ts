import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Socket, createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InventoryHost } from '../../../scheduler/autoscaler/index.js';

/**
 * A real OpenSSH server for provider tests: `sshd -D` on 127.0.0.1 and a free
 * port, with a temporary host key, a generated client key in a temporary
 * authorized_keys file, run as the current user (root here). Plus the two
 * kinds of unreachable host: a closed port and a listener that never speaks.
 */

export const SSHD = '/usr/sbin/sshd';

/** Why sshd tests cannot run here, or undefined when they can. */
export function sshdUnavailable(): string | undefined {
  if (!existsSync(SSHD)) return `${SSHD} not installed (Debian package openssh-server)`;
  if (!existsSync('/usr/bin/ssh') || !existsSync('/usr/bin/ssh-keygen')) return 'ssh client not installed';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'sshd needs root for privilege separation';
  return undefined;
}

/** A free TCP port on 127.0.0.1 (nothing listens on it once this resolves). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A running test sshd. */
export interface TestSshd {
  dir: string;
  port: number;
  keyFile: string;
  knownHosts: string;
  /** An inventory host entry pointing at this sshd under `name`. */
  host(name: string, over?: Partial<InventoryHost>): InventoryHost;
  close(): Promise<void>;
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1');
    });
    if (ok) return;
    if (Date.now() > end) throw new Error('sshd did not start listening');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts sshd; the caller must `close()` it (t.teardown). */
export async function startSshd(): Promise<TestSshd> {
  const dir = await mkdtemp(join(tmpdir(), 'yoloscale-sshd-'));
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(dir, 'host_ed25519');
  const keyFile = join(dir, 'client_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', keyFile]);
  const authorized = join(dir, 'authorized_keys');
  execFileSync('cp', [`${keyFile}.pub`, authorized]);
  const port = await freePort();
  const user = execFileSync('id', ['-un']).toString().trim();
  const config = join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorized}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${user}`,
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  try {
    await waitForPort(port, child);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}: ${stderr}`);
  }
  const knownHosts = join(dir, 'known_hosts');
  return {
    dir,
    port,
    keyFile,
    knownHosts,
    host: (name, over = {}) => ({
      name,
      address: '127.0.0.1',
      port,
      user,
      identityFile: keyFile,
      knownHostsFile: knownHosts,
      type: 'cpu',
      // The "worker": a harmless sleeper whose pid is kept per node id.
      startCommand: `nohup sleep 600 > /dev/null 2>&1 < /dev/null & echo $! > ${dir}/{id}.pid`,
      stopCommand: `kill $(cat ${dir}/{id}.pid) && rm ${dir}/{id}.pid`,
      connectTimeoutS: 3,
      ...over,
    }),
    close: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      // Stop any sleeper a test left behind.
      try {
        execFileSync('sh', ['-c', `for f in ${dir}/*.pid; do [ -f "$f" ] && [ "$f" != "${dir}/sshd.pid" ] && kill $(cat "$f") 2>/dev/null; done; true`]);
      } catch {
        /* nothing left */
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP listener that accepts connections and never says a word (a hung sshd). */
export async function startSilentListener(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((s) => {
    count += 1;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
