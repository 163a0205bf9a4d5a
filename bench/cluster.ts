/**
 * A whole cluster of separate processes for the soak and the chaos suite:
 * one scheduler on fixed ports (so a restarted one is found again by the
 * gateway and the workers), echo workers, and one gateway on a fixed port.
 * Parts can be killed, hung, added and restarted while traffic runs.
 */
import { startEntry } from './processes.js';
import type { BenchProc } from './processes.js';
import type { TenantKey } from './load.js';
import { waitGatewayReady } from './load.js';

/** A tenant the first gateway creates. */
export interface ClusterTenant {
  name: string;
  plan: string;
  /** Non-expiring tokens added at creation. */
  topup?: number;
}

/** Options of {@link BenchCluster.start}. */
export interface BenchClusterOptions {
  /** Echo workers (default 2). */
  workers?: number;
  /** Time each echo batch takes, ms (default 10). */
  echoDelayMs?: number;
  /** Frames each worker accepts in flight (default 8). */
  slots?: number;
  /** Redis ledger URL; unset: the gateway's own SQLite ledger. */
  redisUrl?: string;
  tenants: ClusterTenant[];
}

/** A running cluster; every method leaves it whole again. */
export class BenchCluster {
  scheduler!: BenchProc;
  gateway!: BenchProc;
  readonly workers: BenchProc[] = [];
  /** Tenants with their keys, in the order given. */
  keys: TenantKey[] = [];
  /** Gateway base URL (the same across restarts). */
  url = '';
  #workerPort = 0;
  #clientPort = 0;
  #gatewayPort = 0;
  #opts!: Required<Omit<BenchClusterOptions, 'redisUrl' | 'tenants'>> & BenchClusterOptions;
  readonly #all = new Set<BenchProc>();

  /** Starts scheduler, workers and gateway, and waits until the gateway is ready. */
  static async start(opts: BenchClusterOptions): Promise<BenchCluster> {
    if (!opts || !Array.isArray(opts.tenants)) throw new TypeError('options.tenants must be an array');
    const c = new BenchCluster();
    c.#opts = { workers: 2, echoDelayMs: 10, slots: 8, ...opts };
    for (const k of ['workers', 'slots'] as const) if (!Number.isInteger(c.#opts[k]) || c.#opts[k] < 1) throw new TypeError(`options.${k} must be a positive integer`);
    if (!(c.#opts.echoDelayMs >= 0)) throw new TypeError('options.echoDelayMs must be a number ≥ 0');
    try {
      // First start on free ports; restarts reuse them.
      c.scheduler = await c.#track(startEntry('scheduler', { workerPort: 0, clientPort: 0 }));
      c.#workerPort = Number(c.scheduler.info.workerPort);
      c.#clientPort = Number(c.scheduler.info.clientPort);
      await Promise.all(Array.from({ length: c.#opts.workers }, () => c.addWorker()));
      c.gateway = await c.#startGateway(opts.tenants);
      c.keys = c.gateway.info.keys as TenantKey[];
      c.url = String(c.gateway.info.url);
      c.#gatewayPort = Number(new URL(c.url).port);
      await waitGatewayReady(c.url);
    } catch (err) {
      await c.stop();
      throw err;
    }
    return c;
  }

  /** Scheduler socket of the workers. */
  get workerEndpoint(): string {
    return `tcp://127.0.0.1:${this.#workerPort}`;
  }

  /** Starts one more echo worker (`echoDelayMs` overrides the cluster's). */
  async addWorker(echoDelayMs = this.#opts.echoDelayMs): Promise<BenchProc> {
    const w = await this.#track(startEntry('worker', { scheduler: this.workerEndpoint, echoDelayMs, slots: this.#opts.slots }));
    this.workers.push(w);
    return w;
  }

  /** Removes a worker: `SIGKILL` (crash) or `SIGTERM` (drain, then exit). */
  async removeWorker(w: BenchProc, signal: 'SIGKILL' | 'SIGTERM'): Promise<void> {
    this.workers.splice(this.workers.indexOf(w), 1);
    if (signal === 'SIGKILL') await killHard(w);
    else await w.stop();
    this.#all.delete(w);
  }

  /** Kills the scheduler (`SIGKILL`) and starts a new one on the same ports. */
  async restartScheduler(): Promise<void> {
    await killHard(this.scheduler);
    this.#all.delete(this.scheduler);
    this.scheduler = await this.#track(startEntry('scheduler', { workerPort: this.#workerPort, clientPort: this.#clientPort }));
  }

  /** Stops the gateway gracefully (`SIGTERM`, streams open) and starts a new one on the same port. */
  async restartGateway(): Promise<void> {
    await this.gateway.stop();
    this.#all.delete(this.gateway);
    this.gateway = await this.#startGateway([]);
  }

  /** Process ids by role. */
  pids(): { scheduler: number; gateway: number; workers: number[] } {
    return { scheduler: this.scheduler.child.pid!, gateway: this.gateway.child.pid!, workers: this.workers.map((w) => w.child.pid!) };
  }

  /** Stops every process (gateway first), whatever state they are in. */
  async stop(): Promise<void> {
    for (const p of this.#all) if (p.child.signalCode === null && p.child.exitCode === null) p.child.kill('SIGCONT');
    const order = [...this.#all].sort((a, b) => rank(this, a) - rank(this, b));
    for (const p of order) await p.stop();
    this.#all.clear();
  }

  #startGateway(tenants: ClusterTenant[]): Promise<BenchProc> {
    return this.#track(
      startEntry('gateway', {
        scheduler: `tcp://127.0.0.1:${this.#clientPort}`,
        port: this.#gatewayPort,
        tenants,
        ...(this.#opts.redisUrl ? { redisUrl: this.#opts.redisUrl } : {}),
      }),
    );
  }

  async #track(p: Promise<BenchProc>): Promise<BenchProc> {
    const proc = await p;
    this.#all.add(proc);
    return proc;
  }
}

function rank(c: BenchCluster, p: BenchProc): number {
  return p === c.gateway ? 0 : p === c.scheduler ? 2 : 1;
}

async function killHard(p: BenchProc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.child.once('exit', () => r()));
  p.child.kill('SIGKILL');
  await exited;
}
