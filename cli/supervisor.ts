import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { join } from 'node:path';
import { clusterExecArgv } from '../protocol/v8-flags.js';

/** One supervised child: a name, its argv (after node) and extra environment. */
export interface ChildSpec {
  name: string;
  args: string[];
  env?: Record<string, string>;
  /** Restart when it exits unexpectedly (workers). */
  restart: boolean;
}

/** Options of {@link Supervisor}. */
export interface SupervisorOptions {
  /** Folder for one log file per child (`NAME.log`). */
  logDir: string;
  /** Called with one line about each start, exit and restart. */
  onEvent?: (line: string) => void;
  /** How long children get to exit after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
}

interface Running {
  spec: ChildSpec;
  child: ChildProcess;
  log: WriteStream;
  restarts: number;
}

/**
 * Runs the cluster's processes as children of this one (`yoloscale up`):
 * starts them with the same Node and loader flags as the current process,
 * logs each to a file, restarts crashed ones with backoff and stops them all
 * cleanly.
 */
export class Supervisor {
  readonly #opts: Required<SupervisorOptions>;
  readonly #running = new Map<string, Running>();
  #stopping = false;

  constructor(opts: SupervisorOptions) {
    this.#opts = { stopTimeoutMs: 10_000, onEvent: () => {}, ...opts };
    mkdirSync(opts.logDir, { recursive: true });
  }

  /** Starts a child running this CLI with `spec.args`. */
  start(spec: ChildSpec, restarts = 0): ChildProcess {
    const script = process.argv[1];
    const log = this.#running.get(spec.name)?.log ?? createWriteStream(join(this.#opts.logDir, `${spec.name}.log`), { flags: 'a' });
    const child = spawn(process.execPath, [...clusterExecArgv(), script, ...spec.args], {
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    this.#running.set(spec.name, { spec, child, log, restarts });
    this.#opts.onEvent(`started ${spec.name} (pid ${child.pid})`);
    child.once('exit', (code, signal) => {
      if (this.#stopping) return;
      this.#opts.onEvent(`${spec.name} exited (${signal ?? `code ${code}`})`);
      if (spec.restart) {
        const delay = Math.min(10_000, 250 * 2 ** Math.min(restarts, 6));
        setTimeout(() => {
          if (!this.#stopping) this.start(spec, restarts + 1);
        }, delay).unref();
      }
    });
    return child;
  }

  /** Pid of a running child, if any. */
  pid(name: string): number | undefined {
    return this.#running.get(name)?.child.pid;
  }

  /** Stops every child (SIGTERM, then SIGKILL after the timeout), children started last stopped first. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const all = [...this.#running.values()].reverse();
    await Promise.all(
      all.map(
        ({ child, spec }) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const kill = setTimeout(() => child.kill('SIGKILL'), this.#opts.stopTimeoutMs);
            child.once('exit', () => {
              clearTimeout(kill);
              this.#opts.onEvent(`stopped ${spec.name}`);
              resolve();
            });
            child.kill('SIGTERM');
          }),
      ),
    );
    for (const r of all) r.log.end();
  }
}
