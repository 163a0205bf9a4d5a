/**
 * The scheduler's waiting room: one queue per lane, served in strict order
 * `realtime` > `standard` > `best-effort` (SPEC.md §8). Each lane is a
 * {@link TenantQueue}: weighted fair queueing across tenants
 * ({@link FairQueue} of ./fair-queue.ts) with a bounded queue per tenant.
 */
import type { Lane } from '../protocol/index.js';
import { FairQueue } from './fair-queue.js';

/** Lanes in the order they are served. */
export const LANE_ORDER: readonly Lane[] = Object.freeze(['realtime', 'standard', 'best-effort']);

/**
 * Isolation headroom: while a single tenant has the waiting room to itself,
 * this fraction of the cluster's slots (rounded down) is kept free for other
 * tenants' arrivals. Dispatch cannot preempt a running batch, so without it a
 * quiet tenant arriving while a flooder holds every slot waits up to a whole
 * batch time for the next one to free up (bench/fairness.ts measures this).
 * Clusters under 16 slots keep none; with two or more tenants waiting every
 * slot is used, so shares between backlogged tenants are untouched.
 */
export const ISOLATION_HEADROOM = 1 / 16;

/** Slots the dispatcher keeps free: see {@link ISOLATION_HEADROOM}. Pure. */
export function headroomSlots(totalSlots: number, tenantsWaiting: number): number {
  return tenantsWaiting > 1 ? 0 : Math.floor(totalSlots * ISOLATION_HEADROOM);
}

/** What a lane needs from a per-tenant queue. */
export interface TenantQueue<T> {
  /** Adds an item; false when the tenant's queue is full. */
  push(tenant: string, weight: number, cost: number, item: T): boolean;
  /** Next item in fair order, or undefined when empty. */
  pop(): T | undefined;
  /** Removes and returns every queued item that matches (stale frames). */
  remove(predicate: (item: T, tenant: string) => boolean): T[];
  /** Items queued. */
  readonly size: number;
  /** Tenants with items queued. */
  readonly tenants: number;
}

/**
 * First-in first-out queue with a bound per tenant: the fallback lane queue,
 * and the reference the fair queue is compared against.
 */
export class FifoTenantQueue<T> implements TenantQueue<T> {
  readonly #limit: number;
  #items: Array<{ tenant: string; item: T }> = [];
  #head = 0;
  readonly #perTenant = new Map<string, number>();

  constructor(perTenantLimit: number) {
    if (!Number.isInteger(perTenantLimit) || perTenantLimit < 1) throw new TypeError('perTenantLimit must be a positive integer');
    this.#limit = perTenantLimit;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  get tenants(): number {
    return this.#perTenant.size;
  }

  push(tenant: string, _weight: number, _cost: number, item: T): boolean {
    const n = this.#perTenant.get(tenant) ?? 0;
    if (n >= this.#limit) return false;
    this.#perTenant.set(tenant, n + 1);
    this.#items.push({ tenant, item });
    return true;
  }

  pop(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const entry = this.#items[this.#head++];
    if (this.#head >= this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    this.#release(entry.tenant);
    return entry.item;
  }

  remove(predicate: (item: T, tenant: string) => boolean): T[] {
    const removed: T[] = [];
    const keep: Array<{ tenant: string; item: T }> = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const e = this.#items[i];
      if (predicate(e.item, e.tenant)) {
        removed.push(e.item);
        this.#release(e.tenant);
      } else keep.push(e);
    }
    this.#items = keep;
    this.#head = 0;
    return removed;
  }

  #release(tenant: string): void {
    const n = (this.#perTenant.get(tenant) ?? 1) - 1;
    if (n === 0) this.#perTenant.delete(tenant);
    else this.#perTenant.set(tenant, n);
  }
}

/** Options of {@link LaneQueues}. */
export interface LaneQueuesOptions<T> {
  /** Frames one tenant may have waiting in one lane (default 10,000). */
  perTenantLimit?: number;
  /** Builds a lane's queue (default: {@link FairQueue}). */
  createQueue?: (perTenantLimit: number) => TenantQueue<T>;
}

/** The three lanes, popped in strict priority order. Pure: no I/O, no clock. */
export class LaneQueues<T> {
  readonly #lanes: ReadonlyMap<Lane, TenantQueue<T>>;

  constructor(opts: LaneQueuesOptions<T> = {}) {
    const limit = opts.perTenantLimit ?? 10_000;
    if (!Number.isInteger(limit) || limit < 1) throw new TypeError('options.perTenantLimit must be a positive integer');
    const create = opts.createQueue ?? ((n: number) => new FairQueue<T>({ perTenantLimit: n }));
    this.#lanes = new Map(LANE_ORDER.map((lane) => [lane, create(limit)]));
  }

  /** Queues an item in its lane; false when the tenant's queue in that lane is full. */
  push(lane: Lane, tenant: string, weight: number, cost: number, item: T): boolean {
    const q = this.#lanes.get(lane);
    if (!q) return false;
    return q.push(tenant, weight, cost, item);
  }

  /** Next item: from the highest non-empty lane, in that lane's fair order. */
  pop(): T | undefined {
    for (const lane of LANE_ORDER) {
      const q = this.#lanes.get(lane);
      if (q && q.size > 0) return q.pop();
    }
    return undefined;
  }

  /** Removes and returns every waiting item that matches, in all lanes. */
  removeWhere(predicate: (item: T) => boolean): T[] {
    const out: T[] = [];
    // No spread into push: a lane can hold more items than a call has room for arguments.
    for (const q of this.#lanes.values()) if (q.size > 0) for (const item of q.remove(predicate)) out.push(item);
    return out;
  }

  /**
   * Tenant queues with items waiting, summed over the lanes (a tenant waiting
   * in two lanes counts twice). Below 2, one tenant has the waiting room to itself.
   */
  tenantsWaiting(): number {
    let n = 0;
    for (const q of this.#lanes.values()) n += q.tenants;
    return n;
  }

  /** Items waiting in one lane. */
  depth(lane: Lane): number {
    return this.#lanes.get(lane)?.size ?? 0;
  }

  /** Items waiting in all lanes. */
  get size(): number {
    let n = 0;
    for (const q of this.#lanes.values()) n += q.size;
    return n;
  }
}
