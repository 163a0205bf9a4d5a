/**
 * The one module that talks to Redis (ioredis). Lua scripts from `ledger/lua`
 * are loaded once with `defineCommand` and called only through the typed
 * wrapper methods below; script error codes become typed errors in
 * {@link scriptError}; connection failures become `LedgerUnavailableError`
 * quickly (no offline queue, one retry, a command timeout).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import {
  LedgerConflictError,
  LedgerError,
  LedgerErrorCode,
  LedgerInputError,
  LedgerNotFoundError,
  LedgerUnavailableError,
} from './errors.js';
import { RedisKeys } from './redis-keys.js';

/** Options of {@link RedisStore.connect}. */
export interface RedisStoreOptions {
  /** `redis://host:port/db`. */
  url: string;
  /** Key prefix. */
  prefix: string;
  /** Per-command timeout (ms). */
  commandTimeoutMs: number;
  /** How long to wait for the first connection (ms). */
  connectTimeoutMs: number;
}

/** Outcome codes of `debit-5.lua`. */
export const DebitOutcome = Object.freeze({ granted: 1, idempotentRepeat: 2, frameRepeat: 3, insufficient: 4, modelNotInPlan: 5 } as const);

/** Raw answer of the debit script. */
export interface DebitScriptResult {
  outcome: number;
  charged: number;
  remaining: number;
  lane: string;
  frameId: string;
  storedResult: string | null;
}

type Arg = string | number;
type ScriptFn = (...args: Arg[]) => Promise<unknown>;

/** Script names (file `name-<numKeys>.lua`). */
type ScriptName =
  | 'debit' | 'refund' | 'topup' | 'setPlan' | 'createTenant' | 'createKey'
  | 'setWebhook' | 'deleteWebhook' | 'claimEvents' | 'completeEvent';

const FILE_TO_COMMAND: Readonly<Record<string, ScriptName>> = Object.freeze({
  debit: 'debit',
  refund: 'refund',
  topup: 'topup',
  'set-plan': 'setPlan',
  'create-tenant': 'createTenant',
  'create-key': 'createKey',
  'set-webhook': 'setWebhook',
  'delete-webhook': 'deleteWebhook',
  'claim-events': 'claimEvents',
  'complete-event': 'completeEvent',
});

/** Redis error replies that mean "temporarily unavailable", by their protocol error code. */
const UNAVAILABLE_REPLIES = new Set(['LOADING', 'BUSY', 'MASTERDOWN', 'READONLY', 'CLUSTERDOWN', 'TRYAGAIN', 'NOREPLICAS']);

function luaDir(): string {
  // Beside this module in the source tree; from dist/ledger, the source's lua folder.
  for (const rel of ['./lua/', '../../ledger/lua/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(dir)) return dir;
  }
  throw new LedgerError(LedgerErrorCode.internal, 'ledger Lua scripts not found (ledger/lua)');
}

/**
 * Maps a script's negative code to its typed error (the one place doing so).
 * @param code negative integer returned by a script
 * @param subject what the call was about, for the message (e.g. `tenant t_1`)
 */
export function scriptError(code: number, subject: string): LedgerError {
  switch (code) {
    case -1:
      return new LedgerNotFoundError(`${subject}: tenant not found`);
    case -2:
      return new LedgerNotFoundError(`${subject}: plan not found`);
    case -3:
      return new LedgerConflictError(`${subject}: changed concurrently`);
    case -4:
      return new LedgerInputError(`${subject}: elastic.minPlan must not have more tokens per hour than elastic.maxPlan`);
    case -5:
      return new LedgerConflictError(`${subject}: already exists`);
    default:
      return new LedgerError(LedgerErrorCode.internal, `${subject}: unexpected script code ${code}`);
  }
}

/** Maps anything ioredis throws to a ledger error. */
function mapRedisError(err: unknown): LedgerError {
  if (err instanceof LedgerError) return err;
  const e = err as { name?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (e.name === 'ReplyError') {
    const replyCode = message.split(' ', 1)[0] ?? '';
    if (UNAVAILABLE_REPLIES.has(replyCode)) return new LedgerUnavailableError(`ledger store unavailable: ${message}`, { cause: err });
    return new LedgerError(LedgerErrorCode.internal, `ledger store error: ${message}`, { cause: err });
  }
  return new LedgerUnavailableError(`ledger store unreachable: ${message}`, { cause: err });
}

function num(v: unknown): number {
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : 0;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v instanceof Buffer ? v.toString('utf8') : String(v);
}

/** A connected Redis with the ledger's scripts defined. */
export class RedisStore {
  /** Key names of this store. */
  readonly keys: RedisKeys;
  readonly #redis: Redis;
  readonly #scripts: Record<ScriptName, ScriptFn>;

  private constructor(redis: Redis, keys: RedisKeys) {
    this.#redis = redis;
    this.keys = keys;
    const dir = luaDir();
    const scripts: Partial<Record<ScriptName, ScriptFn>> = {};
    for (const file of readdirSync(dir)) {
      const m = /^([a-z-]+)-(\d+)\.lua$/.exec(file);
      if (!m) continue;
      const name = FILE_TO_COMMAND[m[1]];
      if (!name) continue;
      redis.defineCommand(name, { numberOfKeys: Number(m[2]), lua: readFileSync(`${dir}/${file}`, 'utf8') });
      const fn = (redis as unknown as Record<string, ScriptFn>)[name];
      scripts[name] = fn.bind(redis);
    }
    for (const name of Object.values(FILE_TO_COMMAND)) {
      if (!scripts[name]) throw new LedgerError(LedgerErrorCode.internal, `ledger Lua script for ${name} missing`);
    }
    this.#scripts = scripts as Record<ScriptName, ScriptFn>;
  }

  /**
   * Connects and waits until Redis is ready.
   * @throws LedgerUnavailableError when Redis cannot be reached within `connectTimeoutMs`
   */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    const redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: options.connectTimeoutMs,
      retryStrategy: (times: number) => Math.min(50 * times, 500),
    });
    // Connection errors surface as rejected commands; the event itself is expected while Redis is down.
    redis.on('error', () => {});
    const store = new RedisStore(redis, new RedisKeys(options.prefix));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        redis.connect(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no connection within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
        }),
      ]);
    } catch (err) {
      redis.disconnect();
      throw new LedgerUnavailableError(`cannot connect to Redis ledger: ${(err as Error).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    return store;
  }

  /** Calls `listener` each time the connection becomes ready again after a loss. */
  onReconnect(listener: () => void): void {
    this.#redis.on('ready', listener);
  }

  /** True while the connection is up (commands are sent, not refused locally). */
  get ready(): boolean {
    return this.#redis.status === 'ready';
  }

  async #run<T>(fn: () => Promise<T>): Promise<T> {
    // Refused here, the command certainly did not run: no need to wait for a timeout.
    if (this.#redis.status !== 'ready') throw new LedgerUnavailableError(`ledger store unreachable (connection ${this.#redis.status})`);
    try {
      return await fn();
    } catch (err) {
      throw mapRedisError(err);
    }
  }

  async #script(name: ScriptName, subject: string, args: Arg[]): Promise<unknown[]> {
    const reply = await this.#run(() => this.#scripts[name](...args));
    if (!Array.isArray(reply)) throw new LedgerError(LedgerErrorCode.internal, `${subject}: unexpected script reply`);
    const first = num(reply[0]);
    if (first < 0) throw scriptError(first, subject);
    return reply;
  }

  // ---- scripts -------------------------------------------------------------

  /** Runs `debit-10.lua`. */
  async debit(a: {
    tenantId: string; cost: number; model: string; frameId: string; idempotencyKey: string | null; lane: string;
    now: number; hour: number; idempotencyRetentionMs: number; chargeTtlMs: number; resetAt: string;
  }): Promise<DebitScriptResult> {
    const k = this.keys;
    const r = await this.#script('debit', `tenant ${a.tenantId}`, [
      k.tenant(a.tenantId), k.plans(), k.charge(a.tenantId, a.frameId), k.idempotency(a.tenantId, a.idempotencyKey ?? ''), k.usage(a.tenantId),
      k.refusals(a.tenantId), k.webhook(a.tenantId), k.outbox(), k.outboxEvents(), k.outboxSeq(),
      a.cost, a.model, a.frameId, a.idempotencyKey === null ? '0' : '1', a.lane, a.now, a.hour, a.idempotencyRetentionMs, a.chargeTtlMs,
      a.idempotencyKey ?? '', a.tenantId, a.resetAt,
    ]);
    return {
      outcome: num(r[0]), charged: num(r[1]), remaining: num(r[2]), lane: str(r[3]), frameId: str(r[4]),
      storedResult: r[5] === undefined || r[5] === null ? null : str(r[5]),
    };
  }

  /** Reads the idempotency key a frame's charge was made under (`''` for none or unknown). */
  async chargeIdempotencyKey(tenantId: string, frameId: string): Promise<string> {
    const v = await this.#run(() => this.#redis.hget(this.keys.charge(tenantId, frameId), 'idem'));
    return v ?? '';
  }

  /** Runs `refund-5.lua`; `null` when the charge changed under us (read again). */
  async refund(a: { tenantId: string; frameId: string; reason: string; now: number; hour: number; idempotencyKey: string }): Promise<{ refunded: number; remaining: number } | null> {
    const k = this.keys;
    try {
      const r = await this.#script('refund', `tenant ${a.tenantId}`, [
        k.tenant(a.tenantId), k.plans(), k.charge(a.tenantId, a.frameId), k.usage(a.tenantId), k.idempotency(a.tenantId, a.idempotencyKey),
        a.now, a.hour, a.reason, a.idempotencyKey, a.frameId,
      ]);
      return { refunded: num(r[0]), remaining: num(r[1]) };
    } catch (err) {
      if (err instanceof LedgerConflictError) return null;
      throw err;
    }
  }

  /** Runs `topup-3.lua`. */
  async topup(a: { tenantId: string; tokens: number; now: number; hour: number; actor: string }): Promise<void> {
    const k = this.keys;
    await this.#script('topup', `tenant ${a.tenantId}`, [k.tenant(a.tenantId), k.plans(), k.audit(a.tenantId), a.tokens, a.now, a.hour, a.actor]);
  }

  /** Runs `set-plan-7.lua`; `false` when the tenant was not on `expectPlan`. */
  async setPlan(a: {
    tenantId: string; plan: string; now: number; hour: number; elastic: 'keep' | 'clear' | { minPlan: string; maxPlan: string };
    actor: string; expectPlan?: string; belowHours?: number; evaluatedHour?: number;
  }): Promise<boolean> {
    const k = this.keys;
    const mode = typeof a.elastic === 'string' ? a.elastic : 'set';
    const range = typeof a.elastic === 'string' ? { minPlan: '', maxPlan: '' } : a.elastic;
    try {
      await this.#script('setPlan', `tenant ${a.tenantId}`, [
        k.tenant(a.tenantId), k.plans(), k.audit(a.tenantId), k.webhook(a.tenantId), k.outbox(), k.outboxEvents(), k.outboxSeq(),
        a.plan, a.now, a.hour, mode, range.minPlan, range.maxPlan, a.actor, a.expectPlan ?? '',
        a.belowHours === undefined ? '' : a.belowHours, a.evaluatedHour === undefined ? '' : a.evaluatedHour,
        a.tenantId,
      ]);
      return true;
    } catch (err) {
      if (err instanceof LedgerConflictError && a.expectPlan !== undefined) return false;
      throw err;
    }
  }

  /** Runs `create-tenant-3.lua`. */
  async createTenant(a: { id: string; name: string; plan: string; now: number; hour: number; elastic: { minPlan: string; maxPlan: string } | null }): Promise<void> {
    const k = this.keys;
    await this.#script('createTenant', `tenant ${a.id}`, [
      k.tenant(a.id), k.tenants(), k.plans(), a.id, a.name, a.plan, a.now, a.hour, a.elastic?.minPlan ?? '', a.elastic?.maxPlan ?? '',
    ]);
  }

  /** Runs `create-key-3.lua`. */
  async createKey(a: { tenantId: string; keyId: string; hash: string; prefix: string; now: number }): Promise<void> {
    const k = this.keys;
    await this.#script('createKey', `tenant ${a.tenantId}`, [
      k.tenant(a.tenantId), k.apiKey(a.hash), k.tenantKeys(a.tenantId), a.keyId, a.tenantId, a.hash, a.prefix, a.now,
    ]);
  }

  /** Runs `set-webhook-2.lua`. */
  async setWebhook(a: { tenantId: string; url: string; secret: string; events: readonly string[]; threshold: number | null; now: number }): Promise<void> {
    const k = this.keys;
    await this.#script('setWebhook', `tenant ${a.tenantId}`, [
      k.tenant(a.tenantId), k.webhook(a.tenantId), a.url, a.secret, a.events.join(','), a.threshold === null ? '' : a.threshold, a.now,
    ]);
  }

  /** Runs `delete-webhook-3.lua`; true when a webhook was removed. */
  async deleteWebhook(tenantId: string): Promise<boolean> {
    const k = this.keys;
    const r = await this.#script('deleteWebhook', `tenant ${tenantId}`, [k.webhook(tenantId), k.outbox(), k.outboxEvents(), tenantId]);
    return num(r[0]) > 0;
  }

  /** Runs `claim-events-2.lua`: the claimed events' JSON. */
  async claimEvents(a: { now: number; leaseMs: number; limit: number }): Promise<string[]> {
    const k = this.keys;
    const r = await this.#script('claimEvents', 'outbox', [k.outbox(), k.outboxEvents(), a.now, a.leaseMs, a.limit]);
    return r.slice(1).map(str);
  }

  /** Runs `complete-event-4.lua`. */
  async completeEvent(a: {
    tenantId: string; eventId: string; outcome: string; nextAttemptAt: number; now: number; status: number | null; error: string | undefined;
    durationMs: number; logLimit: number;
  }): Promise<void> {
    const k = this.keys;
    await this.#script('completeEvent', `event ${a.eventId}`, [
      k.outbox(), k.outboxEvents(), k.deliveries(a.tenantId), k.notified(a.tenantId),
      a.eventId, a.outcome, a.nextAttemptAt, a.now, a.status ?? '', a.error ?? '', a.durationMs, a.logLimit,
    ]);
  }

  // ---- plain reads and writes ----------------------------------------------

  /** The tenant's webhook hash (empty object when none). */
  async webhookHash(tenantId: string): Promise<Record<string, string>> {
    return this.#run(() => this.#redis.hgetall(this.keys.webhook(tenantId)));
  }

  /** Every pending event's JSON. */
  async outboxEventJsons(): Promise<string[]> {
    return this.#run(() => this.#redis.hvals(this.keys.outboxEvents()));
  }

  /** Delivery log entries (JSON), newest first. */
  async deliveryJsons(tenantId: string, limit: number): Promise<string[]> {
    return this.#run(() => this.#redis.lrange(this.keys.deliveries(tenantId), 0, limit - 1));
  }

  /** Refusal counters of a tenant (`hour|reason` → count). */
  async refusalsHash(tenantId: string): Promise<Record<string, string>> {
    return this.#run(() => this.#redis.hgetall(this.keys.refusals(tenantId)));
  }

  /** Delivery counters of a tenant (`type|outcome` → count). */
  async notifiedHash(tenantId: string): Promise<Record<string, string>> {
    return this.#run(() => this.#redis.hgetall(this.keys.notified(tenantId)));
  }

  /** All plan JSON values by name. */
  async planJsons(): Promise<Record<string, string>> {
    return this.#run(() => this.#redis.hgetall(this.keys.plans()));
  }

  /** One plan JSON, or null. */
  async planJson(name: string): Promise<string | null> {
    return this.#run(() => this.#redis.hget(this.keys.plans(), name));
  }

  /** Writes one plan JSON. */
  async writePlan(name: string, json: string): Promise<void> {
    await this.#run(() => this.#redis.hset(this.keys.plans(), name, json));
  }

  /** Writes a plan only where missing (seeding defaults). */
  async seedPlan(name: string, json: string): Promise<void> {
    await this.#run(() => this.#redis.hsetnx(this.keys.plans(), name, json));
  }

  /** A tenant's hash (empty object when missing). */
  async tenantHash(id: string): Promise<Record<string, string>> {
    return this.#run(() => this.#redis.hgetall(this.keys.tenant(id)));
  }

  /** Tenant ids, oldest first. */
  async tenantIds(): Promise<string[]> {
    return this.#run(() => this.#redis.zrange(this.keys.tenants(), '0', '-1'));
  }

  /** The key record stored under a key hash, or null. */
  async apiKeyRecord(hash: string): Promise<string | null> {
    return this.#run(() => this.#redis.get(this.keys.apiKey(hash)));
  }

  /** Key metadata JSON by key id. */
  async tenantKeyJsons(tenantId: string): Promise<Record<string, string>> {
    return this.#run(() => this.#redis.hgetall(this.keys.tenantKeys(tenantId)));
  }

  /** Usage counters of a tenant. */
  async usageHash(tenantId: string): Promise<Record<string, string>> {
    return this.#run(() => this.#redis.hgetall(this.keys.usage(tenantId)));
  }

  /** Audit entries (JSON) of a tenant, oldest first. */
  async auditJsons(tenantId: string): Promise<string[]> {
    return this.#run(() => this.#redis.lrange(this.keys.audit(tenantId), '0', '-1'));
  }

  /** Stores the result of an idempotent request (only while its record exists). */
  async setIdempotentResult(tenantId: string, key: string, result: string, ttlMs: number): Promise<void> {
    const k = this.keys.idempotency(tenantId, key);
    // A record refunded meanwhile leaves only `result` behind: without `frame` it is ignored, and it expires.
    await this.#run(async () => {
      if ((await this.#redis.exists(k)) === 1) await this.#redis.multi().hset(k, 'result', result).pexpire(k, ttlMs).exec();
    });
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    try {
      await this.#redis.quit();
    } catch {
      this.#redis.disconnect();
    }
  }
}
