// What `yoloscale scheduler` does when its main thread (admin API,
// autoscaler, metrics) meets an error nothing catches: it logs it and stops
// in order, core thread included, and exits with code 1. Exiting at once,
// as Node does by default, would abort the process (SIGABRT): the core
// thread still has its ZeroMQ sockets open.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { CLI_ARGV } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/env.js';
import { freePorts } from '../helpers/ports.js';

const DRILL = join(REPO_ROOT, 'test', 'helpers', 'main-thread-drill.mjs');

async function runDrill(kind: 'exception' | 'rejection'): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ys-main-crash-'));
  const [adminPort, workerPort, clientPort] = await freePorts(3);
  const env = {
    ...process.env,
    YOLOSCALE_DATA_DIR: dataDir,
    YOLOSCALE_ADMIN_PORT: String(adminPort),
    YOLOSCALE_WORKER_PORT: String(workerPort),
    YOLOSCALE_CLIENT_PORT: String(clientPort),
    YOLOSCALE_ADMIN_TOKEN: 'main-crash-admin-token',
    YOLOSCALE_LOG_LEVEL: 'warn',
    YS_DRILL: kind,
  };
  const child = spawn(process.execPath, ['--import', DRILL, ...CLI_ARGV, 'scheduler'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('exit', (c, s) => r([c, s])));
  clearTimeout(timer);
  rmSync(dataDir, { recursive: true, force: true });
  return { code, signal, stderr: out };
}

for (const kind of ['exception', 'rejection'] as const) {
  t.test(`an uncaught ${kind} on the main thread stops the scheduler with exit code 1, not an abort`, async (t) => {
    const r = await runDrill(kind);
    t.equal(r.signal, null, `not killed by a signal: ${r.stderr.slice(-600)}`);
    t.equal(r.code, 1, 'exit code 1');
    t.match(r.stderr, /uncaught error in the scheduler; it stops/, 'a clear error line');
    t.match(r.stderr, new RegExp(`main-thread drill \\(${kind}\\)`), 'naming the error');
  });
}
