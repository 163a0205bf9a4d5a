/**
 * Every Redis key name of the ledger, built in this one place. All keys share
 * a prefix (default `ys:`) so several ledgers can share one Redis database.
 */

/** Builds the ledger's key names under one prefix. */
export class RedisKeys {
  readonly #p: string;

  /** @param prefix prepended to every key, e.g. `ys:` */
  constructor(prefix: string) {
    this.#p = prefix;
  }

  /** Hash: plan name → plan JSON. */
  plans(): string {
    return `${this.#p}plans`;
  }

  /** Sorted set of tenant ids, scored by creation time (ms). */
  tenants(): string {
    return `${this.#p}tenants`;
  }

  /** Hash of one tenant: name, plan, createdAt, topup, hour, used, emin, emax, below, evalHour. */
  tenant(id: string): string {
    return `${this.#p}t:${id}`;
  }

  /** Hash: key id → key metadata JSON (no secret). */
  tenantKeys(id: string): string {
    return `${this.#p}t:${id}:keys`;
  }

  /** String: JSON `{tenantId, keyId, hash}` of the API key with this SHA-256. */
  apiKey(hash: string): string {
    return `${this.#p}key:${hash}`;
  }

  /** Hash: the charge of one frame (kept 25 h). */
  charge(tenantId: string, frameId: string): string {
    return `${this.#p}t:${tenantId}:charge:${frameId}`;
  }

  /** Hash: the idempotency record of one `Idempotency-Key` (kept 24 h). */
  idempotency(tenantId: string, key: string): string {
    return `${this.#p}t:${tenantId}:idem:${key}`;
  }

  /** Hash: usage counters `hour|model|tokens|refunded|frames` of a tenant. */
  usage(tenantId: string): string {
    return `${this.#p}t:${tenantId}:usage`;
  }

  /** List of audit entries (JSON) of a tenant, oldest first. */
  audit(tenantId: string): string {
    return `${this.#p}t:${tenantId}:audit`;
  }

  /** Hash: refusal counters `hour|reason` of a tenant. */
  refusals(tenantId: string): string {
    return `${this.#p}t:${tenantId}:refusals`;
  }

  /** Hash: the tenant's webhook (url, secret, events as a comma list, threshold, createdAt). */
  webhook(tenantId: string): string {
    return `${this.#p}t:${tenantId}:webhook`;
  }

  /** Sorted set of pending event ids, scored by when each is due (ms). */
  outbox(): string {
    return `${this.#p}outbox`;
  }

  /** Counter numbering outbox events in order of creation. */
  outboxSeq(): string {
    return `${this.#p}outbox:seq`;
  }

  /** Hash: event id → event JSON `{id, tenantId, type, at, data, attempts}`. */
  outboxEvents(): string {
    return `${this.#p}outbox:ev`;
  }

  /** List of delivery attempts (JSON) of a tenant, newest first, capped. */
  deliveries(tenantId: string): string {
    return `${this.#p}t:${tenantId}:deliveries`;
  }

  /** Hash: delivery attempt counters `type|outcome` of a tenant. */
  notified(tenantId: string): string {
    return `${this.#p}t:${tenantId}:notified`;
  }
}
