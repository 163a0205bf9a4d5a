/**
 * A real `redis-server` for tests: free port, temp directory, append-only file
 * fsynced on every write (so a SIGKILL loses nothing), torn down with the test.
 * `kill()` and `restart()` simulate an outage on the same port and data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A running test Redis. */
export interface TestRedis {
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Data directory (append-only file inside). */
  readonly dir: string;
  /** Kills the server with SIGKILL and waits for it to exit (an outage). */
  kill(): Promise<void>;
  /** Starts the server again on the same port and data, once it answers PING. */
  restart(): Promise<void>;
  /** Stops the server and removes its directory (idempotent). */
  stop(): Promise<void>;
}

/** Minimal teardown registry (a tap `t`). */
export interface Teardown {
  teardown(fn: () => unknown): void;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

async function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts `redis-server` on a free port in a fresh temp directory; registers
 * `stop` with `t.teardown` when `t` is given.
 */
export async function startRedis(t?: Teardown): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'ys-redis-'));
  const port = await freePort();
  let child: ChildProcess | null = null;
  let stopped = false;

  const launch = async (): Promise<void> => {
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes',
        '--appendfsync', 'always', '--protected-mode', 'no', '--daemonize', 'no', '--loglevel', 'warning'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`redis-server exited (${proc.exitCode}): ${stderr}`);
      if (await ping(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    throw new Error(`redis-server did not answer on port ${port} within 10 s: ${stderr}`);
  };

  await launch();
  const handle: TestRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async kill() {
      const c = child;
      child = null;
      if (!c) return;
      c.kill('SIGKILL');
      await waitExit(c);
    },
    async restart() {
      if (stopped) throw new Error('redis already stopped');
      if (child) await handle.kill();
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const c = child;
      child = null;
      if (c) {
        c.kill('SIGTERM');
        const timer = setTimeout(() => c.kill('SIGKILL'), 3000);
        await waitExit(c);
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  t?.teardown(() => handle.stop());
  return handle;
}
