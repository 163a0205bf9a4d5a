import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { silentLogger } from '../../../protocol/index.js';
import type { Logger } from '../../../protocol/index.js';
import type { NodeProvider, ProviderError, ProviderInstance } from '../types.js';
import { ErrorQueue, RequestMemo, badLaunch } from './support.js';

/**
 * The `local` provider (SPEC.md §9, the default of `yoloscale up`): each
 * node is a child worker process on this host, started from a configured
 * command with `YOLOSCALE_NODE_ID` and `YOLOSCALE_NODE_TYPE` in its
 * environment (the worker registers under that id). Terminate sends SIGTERM
 * (the worker drains and exits) and SIGKILL after `stopTimeoutMs`.
 */

/** Options of {@link LocalProvider}. */
export interface LocalProviderOptions {
  /** argv of a worker, e.g. `[process.execPath, 'bin/yoloscale.js', 'worker']`. */
  command: readonly string[];
  /** Extra environment for every worker (merged over this process's). */
  env?: Record<string, string>;
  /** Node types offered (default `['local']`); each may add arguments. */
  types?: Record<string, { args?: string[]; env?: Record<string, string> }>;
  /** Seconds a worker takes to become ready (default 5; informs the forecast horizon). */
  leadTimeS?: number;
  /** Grace period between SIGTERM and SIGKILL (default 10,000 ms). */
  stopTimeoutMs?: number;
  /** Working directory of the workers (default this process's). */
  cwd?: string;
  /**
   * Flag that passes the node id on the command line as well (e.g. `--node-id`
   * for `yoloscale worker`); the id is always in `YOLOSCALE_NODE_ID`.
   */
  nodeIdFlag?: string;
  /** Prefix of instance ids (default `local`). */
  idPrefix?: string;
  /** Folder for each worker's output (`ID.log`); without it, stderr lines go to the debug log. */
  logDir?: string;
  logger?: Logger;
}

interface LocalInstance extends ProviderInstance {
  child?: ChildProcess;
  exited?: Promise<void>;
}

/** Child-process node provider. */
export class LocalProvider implements NodeProvider {
  readonly name = 'local';
  readonly leadTimeS: number;
  readonly #o: LocalProviderOptions;
  readonly #types: Record<string, { args?: string[]; env?: Record<string, string> }>;
  readonly #instances = new Map<string, LocalInstance>();
  readonly #launches = new RequestMemo<string[]>();
  readonly #terminates = new RequestMemo<void>();
  readonly #errors = new ErrorQueue();
  readonly #log: Logger;
  readonly #stopTimeoutMs: number;
  #seq = 0;
  #closed = false;

  constructor(options: LocalProviderOptions) {
    if (!Array.isArray(options.command) || options.command.length === 0 || options.command.some((a) => typeof a !== 'string')) {
      throw new RangeError('options.command must be a non-empty array of strings');
    }
    const lead = options.leadTimeS ?? 5;
    if (!Number.isFinite(lead) || lead < 0) throw new RangeError('options.leadTimeS must be a non-negative number');
    const stop = options.stopTimeoutMs ?? 10_000;
    if (!Number.isInteger(stop) || stop < 0) throw new RangeError('options.stopTimeoutMs must be a non-negative integer');
    this.#o = options;
    this.#types = options.types ?? { local: {} };
    this.leadTimeS = lead;
    this.#stopTimeoutMs = stop;
    this.#log = (options.logger ?? silentLogger).child({ provider: 'local' });
  }

  /** Node types offered. */
  get types(): string[] {
    return Object.keys(this.#types);
  }

  async list(): Promise<ProviderInstance[]> {
    return [...this.#instances.values()].map(({ child: _c, exited: _e, ...rest }) => ({ ...rest }));
  }

  launch(type: string, count: number, requestId: string): Promise<string[]> {
    return this.#launches.once(requestId, async () => {
      const bad = badLaunch(type, count, requestId, Object.keys(this.#types));
      if (bad || this.#closed) {
        this.#errors.push({ requestId, op: 'launch', code: bad ? 'bad_request' : 'closed', message: bad ?? 'provider closed', type });
        return [];
      }
      const ids: string[] = [];
      for (let i = 0; i < count; i++) ids.push(this.#start(type, requestId));
      return ids;
    });
  }

  #start(type: string, requestId: string): string {
    const id = `${this.#o.idPrefix ?? 'local'}-${++this.#seq}-${process.pid.toString(36)}`;
    const inst: LocalInstance = { id, type, status: 'pending', requestId, launchedAtMs: Date.now() };
    this.#instances.set(id, inst);
    const t = this.#types[type] ?? {};
    const [cmd, ...args] = this.#o.command;
    let child: ChildProcess;
    try {
      const idArgs = this.#o.nodeIdFlag ? [this.#o.nodeIdFlag, id] : [];
      let out: number | 'ignore' | 'pipe' = 'ignore';
      let err: number | 'pipe' = 'pipe';
      if (this.#o.logDir) {
        mkdirSync(this.#o.logDir, { recursive: true });
        out = err = openSync(join(this.#o.logDir, `${id}.log`), 'a');
      }
      try {
        child = spawn(cmd, [...args, ...(t.args ?? []), ...idArgs], {
          cwd: this.#o.cwd,
          env: { ...process.env, ...this.#o.env, ...t.env, YOLOSCALE_NODE_ID: id, YOLOSCALE_NODE_TYPE: type, YOLOSCALE_PARENT_PID: String(process.pid) },
          stdio: ['ignore', out, err],
        });
      } finally {
        if (typeof out === 'number') closeSync(out);
      }
    } catch (err) {
      inst.status = 'failed';
      this.#errors.push({ requestId, op: 'launch', code: 'spawn_failed', message: (err as Error).message, id, type });
      return id;
    }
    inst.child = child;
    inst.address = `pid ${child.pid ?? '?'}`;
    if (child.stderr) {
      const rl = createInterface({ input: child.stderr });
      rl.on('line', (line) => this.#log.debug({ node: id }, line));
    }
    inst.exited = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        if (inst.status === 'pending' || inst.status === 'running') {
          inst.status = 'failed';
          this.#errors.push({ requestId, op: 'launch', code: 'spawn_failed', message: err.message, id, type });
        }
        resolve();
      });
      child.once('exit', (code, signal) => {
        if (inst.status === 'terminating') inst.status = 'terminated';
        else if (inst.status !== 'failed') {
          inst.status = 'failed';
          this.#errors.push({
            requestId,
            op: 'launch',
            code: 'worker_exited',
            message: `worker ${id} exited unexpectedly (${signal ?? `code ${code}`})`,
            id,
            type,
          });
        }
        resolve();
      });
    });
    child.once('spawn', () => {
      if (inst.status === 'pending') inst.status = 'running';
    });
    this.#log.info({ node: id, type, pid: child.pid }, 'worker process started');
    return id;
  }

  terminate(ids: string[], requestId: string): Promise<void> {
    return this.#terminates.once(requestId, async () => {
      await Promise.all(ids.map((id) => this.#stop(id, requestId)));
    });
  }

  async #stop(id: string, requestId: string): Promise<void> {
    const inst = this.#instances.get(id);
    if (!inst) {
      this.#errors.push({ requestId, op: 'terminate', code: 'not_found', message: `no local instance ${id}`, id });
      return;
    }
    if (inst.status === 'terminated') return;
    const child = inst.child;
    const alive = child && child.exitCode === null && child.signalCode === null;
    if (!alive) {
      inst.status = 'terminated';
      return;
    }
    inst.status = 'terminating';
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) {
        this.#log.warn({ node: id }, 'worker ignored SIGTERM; killing');
        child.kill('SIGKILL');
      }
    }, this.#stopTimeoutMs);
    await inst.exited;
    clearTimeout(timer);
    inst.status = 'terminated';
  }

  pollErrors(): ProviderError[] {
    return this.#errors.drain();
  }

  /** Stops every worker still running and waits for them to exit. */
  async close(): Promise<void> {
    this.#closed = true;
    const live = [...this.#instances.values()].filter((i) => i.status === 'pending' || i.status === 'running' || i.status === 'terminating');
    await Promise.all(live.map((i) => this.#stop(i.id, 'close')));
  }
}
