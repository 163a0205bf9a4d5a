/**
 * Weighted fair queueing across tenants within one lane (SPEC.md §8):
 * start-time fair queueing (SFQ, Goyal et al. 1996) with virtual time.
 *
 * - Each tenant has a FIFO queue, bounded by `perTenantLimit`.
 * - The head item of a tenant gets its start tag when it becomes the head:
 *   `S = max(V, F_last)`, where `V` is the virtual time (the start tag of the
 *   item last served) and `F_last` the finish tag of the tenant's last served
 *   item; its finish tag is `S + cost / weight`.
 * - `pop` serves the head with the smallest start tag (ties: smaller finish
 *   tag, then earlier arrival), from a binary heap over tenants: O(log n) in
 *   the number of backlogged tenants.
 * - Work-conserving: only backlogged tenants compete, so an idle tenant's
 *   share goes to the others; a returning tenant starts at `max(V, F_last)`,
 *   so its idle time earns it no credit.
 * - Cancelled items (dropped or replaced frames) leave without being charged
 *   to the tenant's tags.
 *
 * Weight = plan tokens per hour, cost = frame tokens. Pure: no I/O, no clock.
 */

/** Options of {@link FairQueue}; all optional. */
export interface FairQueueOptions {
  /** Items one tenant may have waiting (default 10,000). */
  perTenantLimit?: number;
}

/** Largest advance of a tenant's tags for one item (virtual-time units: a million tokens at weight 1). */
export const MAX_TAG_STEP = 1e6;

/** Frozen defaults of {@link FairQueueOptions}. */
export const FAIR_QUEUE_DEFAULTS = Object.freeze({ perTenantLimit: 10_000 });

/** An item as served, with its tags (virtual-time units: tokens per weight). */
export interface FairQueueEntry<T> {
  tenant: string;
  item: T;
  cost: number;
  weight: number;
  startTag: number;
  finishTag: number;
}

interface Queued<T> {
  item: T;
  cost: number;
  weight: number;
  seq: number;
}

interface TenantState<T> {
  name: string;
  items: Queued<T>[];
  head: number;
  /** Finish tag of the tenant's last served item. */
  lastFinish: number;
  /** Start tag of the current head (valid while backlogged). */
  startTag: number;
  finishTag: number;
  /** Position in the heap, -1 when not backlogged. */
  heapIndex: number;
  /** Busy period the state belongs to; a state from an earlier one counts as forgotten. */
  period: number;
}

/** Tenant states kept before forgotten ones are dropped from the map (see `#tenants`). */
const PRUNE_AT = 1024;

/**
 * The fair queue of one lane. Its `push`/`pop`/`size` match the scheduler's
 * `TenantQueue` interface (./lanes.ts).
 */
export class FairQueue<T> {
  readonly #limit: number;
  /**
   * Every tenant seen, idle ones included: a tenant is forgotten by
   * resetting its state (or by `#period` moving on), not by deleting it, so
   * that a queue emptied by every frame does not churn the Map (which would
   * keep every frame alive until a full GC, see protocol/id-table.ts).
   * Forgotten states are dropped in bulk once there are `#pruneAt`.
   */
  readonly #tenants = new Map<string, TenantState<T>>();
  #period = 0;
  #pruneAt = PRUNE_AT;
  readonly #heap: TenantState<T>[] = [];
  #virtualTime = 0;
  #maxFinishServed = 0;
  #size = 0;
  #seq = 0;

  /** @throws TypeError when an option is invalid (the message names it). */
  constructor(options: FairQueueOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    const limit = options.perTenantLimit ?? FAIR_QUEUE_DEFAULTS.perTenantLimit;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new TypeError('options.perTenantLimit must be a positive integer');
    this.#limit = limit;
  }

  /** Items waiting in all tenants' queues. */
  get size(): number {
    return this.#size;
  }

  /** Tenants with items waiting (backlogged). */
  get tenants(): number {
    return this.#heap.length;
  }

  /** Tenant states held, idle ones included (bounded: forgotten ones are dropped in bulk). */
  get tenantStates(): number {
    return this.#tenants.size;
  }

  /** Current virtual time (start tag of the item last served). */
  get virtualTime(): number {
    return this.#virtualTime;
  }

  /** Items waiting for one tenant. */
  depth(tenant: string): number {
    const s = this.#tenants.get(tenant);
    return s ? s.items.length - s.head : 0;
  }

  /** Tenants with items waiting, and how many each. */
  depths(): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.#tenants.values()) if (s.items.length > s.head) out.set(s.name, s.items.length - s.head);
    return out;
  }

  /**
   * Queues an item for a tenant.
   * @param weight the tenant's weight (plan tokens per hour), positive; the latest value counts for new items
   * @param cost the item's cost (frame tokens), positive
   * @returns false (nothing queued) when the tenant's queue is full
   * @throws TypeError for a non-positive or non-finite weight or cost
   */
  push(tenant: string, weight: number, cost: number, item: T): boolean {
    if (typeof tenant !== 'string') throw new TypeError('tenant must be a string');
    if (!(Number.isFinite(weight) && weight > 0)) throw new TypeError('weight must be a positive number');
    if (!(Number.isFinite(cost) && cost > 0)) throw new TypeError('cost must be a positive number');
    let s = this.#tenants.get(tenant);
    if (!s) {
      if (this.#tenants.size >= this.#pruneAt) this.#prune();
      s = { name: tenant, items: [], head: 0, lastFinish: 0, startTag: 0, finishTag: 0, heapIndex: -1, period: this.#period };
      this.#tenants.set(tenant, s);
    } else if (s.period !== this.#period) {
      // Forgotten at the end of a busy period: it starts afresh.
      s.period = this.#period;
      s.lastFinish = 0;
    }
    if (s.items.length - s.head >= this.#limit) return false;
    s.items.push({ item, cost, weight, seq: this.#seq++ });
    this.#size++;
    if (s.heapIndex < 0) {
      this.#tagHead(s);
      this.#heapInsert(s);
    }
    return true;
  }

  /** Next item in fair order, or undefined when empty. */
  pop(): T | undefined {
    return this.popEntry()?.item;
  }

  /** Next item with its tenant and tags, or undefined when empty. */
  popEntry(): FairQueueEntry<T> | undefined {
    const s = this.#heap[0];
    if (!s) return undefined;
    const q = s.items[s.head];
    const entry: FairQueueEntry<T> = { tenant: s.name, item: q.item, cost: q.cost, weight: q.weight, startTag: s.startTag, finishTag: s.finishTag };
    this.#virtualTime = s.startTag;
    this.#maxFinishServed = Math.max(this.#maxFinishServed, s.finishTag);
    s.lastFinish = s.finishTag;
    this.#shift(s);
    this.#size--;
    if (s.items.length > s.head) {
      this.#tagHead(s);
      this.#siftDown(s.heapIndex);
    } else {
      this.#heapRemove(s);
      this.#forgetIfIdle(s);
    }
    if (this.#size === 0) this.#endBusyPeriod();
    return entry;
  }

  /** The item `pop` would answer next, without removing it. */
  peek(): T | undefined {
    const s = this.#heap[0];
    return s ? s.items[s.head].item : undefined;
  }

  /**
   * Removes every waiting item matching `predicate` (dropped or replaced
   * frames); the removed items are not charged to their tenants' tags.
   * O(items + tenants): each tenant's queue is filtered in place and the heap
   * is rebuilt once, not sifted per tenant. @returns the removed items, in
   * queue order per tenant
   */
  remove(predicate: (item: T, tenant: string) => boolean): T[] {
    const removed: T[] = [];
    let changed = false;
    for (const s of this.#tenants.values()) {
      const items = s.items;
      const oldHead = items[s.head];
      let kept = 0;
      for (let i = s.head; i < items.length; i++) {
        const q = items[i];
        if (predicate(q.item, s.name)) removed.push(q.item);
        else items[kept++] = q;
      }
      const before = items.length - s.head;
      if (kept === before) {
        // Nothing removed, but the kept items moved to the front.
        if (s.head > 0) {
          items.length = kept;
          s.head = 0;
        }
        continue;
      }
      changed = true;
      items.length = kept;
      s.head = 0;
      this.#size -= before - kept;
      if (kept > 0 && items[0] !== oldHead) this.#tagHead(s);
    }
    if (!changed) return removed;
    // Rebuild the heap over the tenants still backlogged, and forget the idle ones.
    this.#heap.length = 0;
    for (const s of [...this.#tenants.values()]) {
      if (s.items.length > 0) {
        s.heapIndex = this.#heap.length;
        this.#heap.push(s);
      } else {
        s.heapIndex = -1;
        this.#forgetIfIdle(s);
      }
    }
    for (let i = (this.#heap.length >> 1) - 1; i >= 0; i--) this.#siftDown(i);
    if (this.#size === 0) this.#endBusyPeriod();
    return removed;
  }

  // ---- internals -------------------------------------------------------------

  /** End of a busy period: virtual time jumps to the largest finish tag served (SFQ); idle tenants are forgotten. */
  #endBusyPeriod(): void {
    this.#virtualTime = Math.max(this.#virtualTime, this.#maxFinishServed);
    // Every tenant is idle now: all of them are forgotten at once.
    this.#period++;
  }

  /** Drops the states of idle tenants that have nothing to remember (a finish tag ahead of virtual time is remembered). */
  #prune(): void {
    for (const s of this.#tenants.values()) {
      if (s.items.length === s.head && (s.period !== this.#period || s.lastFinish <= this.#virtualTime)) this.#tenants.delete(s.name);
    }
    this.#pruneAt = Math.max(PRUNE_AT, 2 * this.#tenants.size);
  }

  #tagHead(s: TenantState<T>): void {
    const q = s.items[s.head];
    s.startTag = Math.max(this.#virtualTime, s.lastFinish);
    // Capped so that no weight (a denormal one, say) can push the tags, and with them the virtual time, to Infinity for good.
    s.finishTag = s.startTag + Math.min(q.cost / q.weight, MAX_TAG_STEP);
  }

  #shift(s: TenantState<T>): void {
    s.head++;
    if (s.head >= s.items.length) {
      s.items = [];
      s.head = 0;
    } else if (s.head > 1024 && s.head * 2 > s.items.length) {
      s.items = s.items.slice(s.head);
      s.head = 0;
    }
  }

  /** Forgets an idle tenant's last finish tag once it is no longer ahead of virtual time. */
  #forgetIfIdle(s: TenantState<T>): void {
    if (s.items.length === s.head && s.lastFinish <= this.#virtualTime) s.lastFinish = 0;
  }

  #less(a: TenantState<T>, b: TenantState<T>): boolean {
    if (a.startTag !== b.startTag) return a.startTag < b.startTag;
    if (a.finishTag !== b.finishTag) return a.finishTag < b.finishTag;
    return a.items[a.head].seq < b.items[b.head].seq;
  }

  #heapInsert(s: TenantState<T>): void {
    s.heapIndex = this.#heap.length;
    this.#heap.push(s);
    this.#siftUp(s.heapIndex);
  }

  #heapRemove(s: TenantState<T>): void {
    const i = s.heapIndex;
    const last = this.#heap.pop();
    s.heapIndex = -1;
    if (last && last !== s) {
      this.#heap[i] = last;
      last.heapIndex = i;
      this.#siftUp(i);
      this.#siftDown(last.heapIndex);
    }
  }

  #swap(i: number, j: number): void {
    const a = this.#heap[i];
    const b = this.#heap[j];
    this.#heap[i] = b;
    this.#heap[j] = a;
    a.heapIndex = j;
    b.heapIndex = i;
  }

  #siftUp(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(this.#heap[i], this.#heap[parent])) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #siftDown(i: number): void {
    const n = this.#heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.#less(this.#heap[l], this.#heap[m])) m = l;
      if (r < n && this.#less(this.#heap[r], this.#heap[m])) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }
}
