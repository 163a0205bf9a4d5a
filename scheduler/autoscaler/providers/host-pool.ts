import { silentLogger } from '../../../protocol/index.js';
import type { Logger } from '../../../protocol/index.js';
import type { NodeProvider, ProviderError, ProviderInstance } from '../types.js';
import type { InventoryHost } from './inventory.js';
import { ErrorQueue, RequestMemo, TaskSet, badLaunch, sleep } from './support.js';

/**
 * The machinery shared by the bare-metal providers (`ssh`, `redfish`): a
 * fixed pool of inventory hosts, one worker per host (the node id is the
 * host name). Launch claims free hosts and brings them up in the background
 * with retries; terminate brings them down and frees them. Failures become
 * {@link ProviderError}s; a host that failed to come up is released (nothing
 * is left running or claimed) and rested for `quarantineMs` before it is
 * picked again.
 */

/** A failure with a stable code, thrown by bring-up and bring-down steps. */
export class ProviderFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ProviderFailure';
  }
}

/** How a host is brought up and down. */
export interface HostDriver {
  /** Powers on / starts the worker; throws {@link ProviderFailure}. Must stop early when `signal` aborts. */
  up(host: InventoryHost, signal: AbortSignal): Promise<void>;
  /** Stops the worker / powers off; throws {@link ProviderFailure}. */
  down(host: InventoryHost): Promise<void>;
}

/** Options of {@link HostPoolProvider}. */
export interface HostPoolProviderOptions {
  name: string;
  hosts: readonly InventoryHost[];
  driver: HostDriver;
  /** Seconds from launch to a ready worker (informs the forecast horizon). */
  leadTimeS: number;
  /** Attempts per bring-up and bring-down (default 3). */
  attempts?: number;
  /** Delay before retry k is `retryDelayMs × k` (default 2,000 ms). */
  retryDelayMs?: number;
  /** A host that failed to come up is not picked again for this long (default 300,000 ms). */
  quarantineMs?: number;
  logger?: Logger;
}

interface HostInstance extends ProviderInstance {
  host: InventoryHost;
  abort: AbortController;
}

/** Node provider over a fixed pool of inventory hosts. */
export class HostPoolProvider implements NodeProvider {
  readonly name: string;
  readonly leadTimeS: number;
  readonly #hosts: readonly InventoryHost[];
  readonly #driver: HostDriver;
  readonly #attempts: number;
  readonly #retryDelayMs: number;
  readonly #quarantineMs: number;
  readonly #log: Logger;
  /** Instances by id (= host name); terminated ones stay listed until the host is claimed again. */
  readonly #instances = new Map<string, HostInstance>();
  readonly #quarantinedUntil = new Map<string, number>();
  readonly #launches = new RequestMemo<string[]>();
  readonly #terminates = new RequestMemo<void>();
  readonly #errors = new ErrorQueue();
  readonly #tasks: TaskSet;
  #closed = false;

  constructor(o: HostPoolProviderOptions) {
    if (!Array.isArray(o.hosts) || o.hosts.length === 0) throw new RangeError('options.hosts must be a non-empty array');
    const attempts = o.attempts ?? 3;
    if (!Number.isInteger(attempts) || attempts < 1) throw new RangeError('options.attempts must be a positive integer');
    const retry = o.retryDelayMs ?? 2000;
    if (!Number.isInteger(retry) || retry < 0) throw new RangeError('options.retryDelayMs must be a non-negative integer');
    const q = o.quarantineMs ?? 300_000;
    if (!Number.isInteger(q) || q < 0) throw new RangeError('options.quarantineMs must be a non-negative integer');
    this.name = o.name;
    this.leadTimeS = o.leadTimeS;
    this.#hosts = o.hosts;
    this.#driver = o.driver;
    this.#attempts = attempts;
    this.#retryDelayMs = retry;
    this.#quarantineMs = q;
    this.#log = (o.logger ?? silentLogger).child({ provider: o.name });
    this.#tasks = new TaskSet((err) => this.#log.error({ err }, 'provider task failed'));
  }

  /** Node types the inventory offers. */
  get types(): string[] {
    return [...new Set(this.#hosts.map((h) => h.type))];
  }

  async list(): Promise<ProviderInstance[]> {
    return [...this.#instances.values()].map(({ host: _h, abort: _a, ...rest }) => ({ ...rest }));
  }

  #free(type: string, now: number): InventoryHost[] {
    return this.#hosts.filter((h) => {
      if (h.type !== type) return false;
      const inst = this.#instances.get(h.name);
      if (inst && inst.status !== 'terminated' ) return false;
      return (this.#quarantinedUntil.get(h.name) ?? 0) <= now;
    });
  }

  launch(type: string, count: number, requestId: string): Promise<string[]> {
    return this.#launches.once(requestId, async () => {
      const bad = badLaunch(type, count, requestId, this.types);
      if (bad || this.#closed) {
        this.#errors.push({ requestId, op: 'launch', code: bad ? 'bad_request' : 'closed', message: bad ?? 'provider closed', type });
        return [];
      }
      const now = Date.now();
      const free = this.#free(type, now).slice(0, count);
      if (free.length < count) {
        this.#errors.push({
          requestId,
          op: 'launch',
          code: 'no_host',
          message: `${count - free.length} of ${count} ${type} hosts requested are not available in the inventory`,
          type,
        });
      }
      for (const host of free) {
        const inst: HostInstance = {
          id: host.name,
          type,
          status: 'pending',
          requestId,
          address: host.address,
          launchedAtMs: now,
          host,
          abort: new AbortController(),
        };
        this.#instances.set(host.name, inst);
        this.#tasks.add(this.#bringUp(inst));
      }
      return free.map((h) => h.name);
    });
  }

  async #bringUp(inst: HostInstance): Promise<void> {
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      if (inst.abort.signal.aborted) return;
      try {
        await this.#driver.up(inst.host, inst.abort.signal);
        if (inst.abort.signal.aborted) return;
        inst.status = 'running';
        this.#log.info({ node: inst.id }, 'host up');
        return;
      } catch (err) {
        if (inst.abort.signal.aborted) return;
        const f = err instanceof ProviderFailure ? err : new ProviderFailure('internal', (err as Error).message);
        const last = attempt === this.#attempts;
        this.#errors.push({
          requestId: inst.requestId,
          op: 'launch',
          code: f.code,
          message: `${inst.id}: ${f.message} (attempt ${attempt}/${this.#attempts}${last ? ', giving up' : ', retrying'})`,
          id: inst.id,
          type: inst.type,
        });
        this.#log.warn({ node: inst.id, code: f.code, attempt }, f.message);
        if (last) {
          inst.status = 'failed';
          this.#quarantinedUntil.set(inst.id, Date.now() + this.#quarantineMs);
          return;
        }
        await sleep(this.#retryDelayMs * attempt);
      }
    }
  }

  terminate(ids: string[], requestId: string): Promise<void> {
    return this.#terminates.once(requestId, async () => {
      await Promise.all(ids.map((id) => this.#bringDown(id, requestId)));
    });
  }

  async #bringDown(id: string, requestId: string): Promise<void> {
    const inst = this.#instances.get(id);
    if (!inst) {
      this.#errors.push({ requestId, op: 'terminate', code: 'not_found', message: `no instance ${id}`, id });
      return;
    }
    if (inst.status === 'terminated') return;
    if (inst.status === 'failed') {
      // Bring-up gave up and left nothing running: only the bookkeeping remains.
      inst.status = 'terminated';
      return;
    }
    inst.status = 'terminating';
    inst.abort.abort();
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      try {
        await this.#driver.down(inst.host);
        inst.status = 'terminated';
        this.#log.info({ node: id }, 'host down');
        return;
      } catch (err) {
        const f = err instanceof ProviderFailure ? err : new ProviderFailure('internal', (err as Error).message);
        const last = attempt === this.#attempts;
        this.#errors.push({
          requestId,
          op: 'terminate',
          code: f.code,
          message: `${id}: ${f.message} (attempt ${attempt}/${this.#attempts}${last ? ', giving up' : ', retrying'})`,
          id,
          type: inst.type,
        });
        if (last) {
          inst.status = 'failed';
          return;
        }
        await sleep(this.#retryDelayMs * attempt);
      }
    }
  }

  pollErrors(): ProviderError[] {
    return this.#errors.drain();
  }

  /** Stops pending bring-ups and waits for background work; running hosts are left running. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const inst of this.#instances.values()) if (inst.status === 'pending') inst.abort.abort();
    await this.#tasks.settle();
  }
}
