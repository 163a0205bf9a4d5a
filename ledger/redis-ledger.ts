/**
 * Redis backend of the ledger: every multi-key change is one Lua script
 * (atomic on the server), run through {@link RedisStore}. When Redis cannot be
 * reached, calls fail fast with `LedgerUnavailableError`; debits whose outcome
 * is unknown (sent, then the connection dropped) are refunded automatically
 * once Redis is back, so an outage never charges for frames that were refused.
 */
import { generateApiKey, hashApiKey, hashesEqual, keyDisplayPrefix, randomId } from './api-keys.js';
import { HOUR_MS, hourIndex, resetAtIso, secondsToNextHour } from './clock.js';
import { decideElastic, elasticInputFrom, type ElasticDecision } from './elastic.js';
import { LedgerInputError, LedgerNotFoundError, LedgerUnavailableError } from './errors.js';
import type { AuthenticatedTenant, Ledger, LedgerCommonOptions } from './ledger.js';
import { DEFAULT_PLAN_NAME, DEFAULT_PLANS } from './pricing.js';
import {
  auditFromJson,
  deliveryFromJson,
  eventFromJson,
  notifiedFromHash,
  parsePlan,
  planJson,
  refusalsFromHash,
  tenantFromHash,
  usageFromHash,
  webhookFromHash,
} from './redis-records.js';
import { DebitOutcome, RedisStore } from './redis-store.js';
import type {
  ApiKeyInfo,
  AuditEntry,
  Balance,
  CreatedApiKey,
  CreateTenantInput,
  DebitRequest,
  DebitResult,
  DeliveryAttempt,
  DeliveryRecord,
  LedgerLane,
  OutboxEvent,
  Plan,
  PlanUpdate,
  RefundResult,
  SetPlanOptions,
  Tenant,
  TopupOptions,
  UsageReport,
  WebhookInput,
  WebhookWithSecret,
} from './types.js';
import { DELIVERY_LOG_LIMIT, checkWebhookInput, generateWebhookSecret } from './webhook.js';
import {
  checkCreateTenant,
  checkDebit,
  checkElastic,
  checkId,
  checkIdempotencyKey,
  checkNow,
  checkPlanName,
  checkPlanUpdate,
  checkPositiveInt,
  checkToken,
  checkClaim,
  checkDelivery,
} from './validate.js';

/** Options of {@link RedisLedger.open}. */
export interface RedisLedgerOptions extends LedgerCommonOptions {
  /** `redis://host:port/db`. */
  url: string;
  /** Prefix of every key; default `ys:`. */
  keyPrefix?: string;
  /** Per-command timeout; default 1000 ms. */
  commandTimeoutMs?: number;
  /** How long `open` waits for Redis; default 3000 ms. */
  connectTimeoutMs?: number;
}

const RETENTION_MS = 24 * HOUR_MS;
const CHARGE_TTL_MS = RETENTION_MS + 2 * HOUR_MS;
/** Bound on debits remembered for a refund after an outage. */
const MAX_UNCERTAIN = 100_000;

function positiveIntOption(field: string, value: number | undefined, dflt: number): number {
  if (value === undefined) return dflt;
  if (!Number.isSafeInteger(value) || value <= 0) throw new LedgerInputError(`options.${field} must be a positive integer`);
  return value;
}

/** The Redis ledger. Create with {@link RedisLedger.open}. */
export class RedisLedger implements Ledger {
  /** Store behind this ledger. */
  readonly backend = 'redis' as const;
  readonly #store: RedisStore;
  readonly #clock: () => number;
  /** Debits whose outcome is unknown, refunded when Redis is back: key `tenant\nframe`. */
  readonly #uncertain = new Map<string, { tenantId: string; frameId: string }>();

  private constructor(store: RedisStore, clock: () => number) {
    this.#store = store;
    this.#clock = clock;
    store.onReconnect(() => {
      this.#settleUncertain().catch(() => {
        // Still unreachable: the entries stay and are retried on the next reconnect.
      });
    });
  }

  /**
   * Connects to Redis and seeds the default plans where missing.
   * @throws LedgerInputError for bad options; LedgerUnavailableError when Redis cannot be reached
   */
  static async open(options: RedisLedgerOptions): Promise<RedisLedger> {
    if (typeof options !== 'object' || options === null) throw new LedgerInputError('options must be an object');
    if (typeof options.url !== 'string' || !/^rediss?:\/\//.test(options.url)) throw new LedgerInputError('options.url must be a redis:// or rediss:// URL');
    const prefix = options.keyPrefix ?? 'ys:';
    if (typeof prefix !== 'string' || !/^[A-Za-z0-9_:.-]{0,64}$/.test(prefix)) throw new LedgerInputError('options.keyPrefix must be up to 64 letters, digits or _:.-');
    if (options.now !== undefined && typeof options.now !== 'function') throw new LedgerInputError('options.now must be a function');
    const store = await RedisStore.connect({
      url: options.url,
      prefix,
      commandTimeoutMs: positiveIntOption('commandTimeoutMs', options.commandTimeoutMs, 1000),
      connectTimeoutMs: positiveIntOption('connectTimeoutMs', options.connectTimeoutMs, 3000),
    });
    try {
      for (const p of DEFAULT_PLANS) await store.seedPlan(p.name, planJson(p));
    } catch (err) {
      await store.close();
      throw err;
    }
    return new RedisLedger(store, options.now ?? Date.now);
  }

  async #settleUncertain(): Promise<void> {
    for (const [k, { tenantId, frameId }] of [...this.#uncertain]) {
      try {
        await this.refund(tenantId, frameId, 'ledger_unavailable');
      } catch (err) {
        if (err instanceof LedgerUnavailableError) throw err; // down again: retried on the next reconnect
      }
      this.#uncertain.delete(k);
    }
  }

  // ---- helpers -------------------------------------------------------------

  async #plan(name: string): Promise<Plan> {
    const json = await this.#store.planJson(name);
    if (json === null) throw new LedgerNotFoundError(`plan ${name} not found`);
    return parsePlan(name, json);
  }

  async #loadTenant(id: string, now: number): Promise<Tenant | null> {
    const h = await this.#store.tenantHash(id);
    if (!h.id) return null;
    return tenantFromHash(h, await this.#plan(h.plan), now);
  }

  async #mustTenant(id: string, now: number): Promise<Tenant> {
    const t = await this.#loadTenant(id, now);
    if (!t) throw new LedgerNotFoundError(`tenant ${id} not found`);
    return t;
  }

  // ---- plans ---------------------------------------------------------------

  /** Every plan, cheapest first. */
  async listPlans(): Promise<Plan[]> {
    const all = await this.#store.planJsons();
    return Object.entries(all)
      .map(([name, json]) => parsePlan(name, json))
      .sort((a, b) => a.tokensPerHour - b.tokensPerHour || a.name.localeCompare(b.name));
  }

  /** One plan, or `null`. */
  async getPlan(name: string): Promise<Plan | null> {
    checkPlanName('name', name);
    const json = await this.#store.planJson(name);
    return json === null ? null : parsePlan(name, json);
  }

  /** Creates or edits a plan; takes effect at once. */
  async putPlan(name: string, update: PlanUpdate): Promise<Plan> {
    checkPlanName('name', name);
    const prevJson = await this.#store.planJson(name);
    const u = checkPlanUpdate(update, prevJson !== null);
    const prev: Plan = prevJson ? parsePlan(name, prevJson) : { name, tokensPerHour: 0, models: null, overflow: 'reject' };
    const next: Plan = {
      name,
      tokensPerHour: u.tokensPerHour ?? prev.tokensPerHour,
      models: u.models !== undefined ? u.models : prev.models,
      overflow: u.overflow ?? prev.overflow,
    };
    await this.#store.writePlan(name, planJson(next));
    return next;
  }

  // ---- tenants and keys ----------------------------------------------------

  /** Creates a tenant. */
  async createTenant(input: CreateTenantInput): Promise<Tenant> {
    const c = checkCreateTenant(input, DEFAULT_PLAN_NAME);
    const now = this.#clock();
    const id = c.id ?? randomId('t_');
    await this.#store.createTenant({ id, name: c.name, plan: c.plan, now, hour: hourIndex(now), elastic: c.elastic });
    return this.#mustTenant(id, now);
  }

  /** One tenant, or `null`. */
  async getTenant(id: string): Promise<Tenant | null> {
    if (typeof id !== 'string') throw new LedgerInputError('id must be a string');
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) return null;
    return this.#loadTenant(id, this.#clock());
  }

  /** Every tenant, oldest first. */
  async listTenants(): Promise<Tenant[]> {
    const now = this.#clock();
    const plans = new Map((await this.listPlans()).map((p) => [p.name, p]));
    const out: Tenant[] = [];
    for (const id of await this.#store.tenantIds()) {
      const h = await this.#store.tenantHash(id);
      const plan = plans.get(h.plan);
      if (h.id && plan) out.push(tenantFromHash(h, plan, now));
    }
    return out;
  }

  /** Creates an API key (plaintext answered once, hash stored). */
  async createApiKey(tenantId: string): Promise<CreatedApiKey> {
    checkId('tenantId', tenantId);
    const now = this.#clock();
    const key = generateApiKey();
    const id = randomId('k_');
    const prefix = keyDisplayPrefix(key);
    await this.#store.createKey({ tenantId, keyId: id, hash: hashApiKey(key), prefix, now });
    return { id, tenantId, key, prefix, createdAt: new Date(now).toISOString() };
  }

  /** Keys of a tenant, without secrets. */
  async listApiKeys(tenantId: string): Promise<ApiKeyInfo[]> {
    checkId('tenantId', tenantId);
    await this.#mustTenant(tenantId, this.#clock());
    const all = await this.#store.tenantKeyJsons(tenantId);
    return Object.entries(all)
      .map(([id, json]) => {
        const m = JSON.parse(json) as { prefix: string; createdAt: number };
        return { id, tenantId, prefix: m.prefix, createdAt: new Date(m.createdAt).toISOString() };
      })
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Resolves a plaintext key to its tenant (hash lookup, constant-time hash comparison). */
  async authenticate(key: string): Promise<AuthenticatedTenant | null> {
    if (typeof key !== 'string' || key.length === 0 || key.length > 512) return null;
    const hash = hashApiKey(key);
    const rec = await this.#store.apiKeyRecord(hash);
    if (rec === null) return null;
    const r = JSON.parse(rec) as { tenantId: string; keyId: string; hash: string };
    if (!hashesEqual(r.hash, hash)) return null;
    const h = await this.#store.tenantHash(r.tenantId);
    if (!h.plan) return null;
    return { tenantId: r.tenantId, keyId: r.keyId, plan: await this.#plan(h.plan) };
  }

  // ---- balances ------------------------------------------------------------

  /** Current balances of a tenant. */
  async balance(tenantId: string): Promise<Balance> {
    checkId('tenantId', tenantId);
    return (await this.#mustTenant(tenantId, this.#clock())).balance;
  }

  /** Atomic debit of one frame (one Lua script). */
  async debit(tenantId: string, request: DebitRequest): Promise<DebitResult> {
    checkId('tenantId', tenantId);
    const r = checkDebit(request, this.#clock);
    const resetAt = resetAtIso(r.now);
    const sent = this.#store.ready;
    let res;
    try {
      res = await this.#store.debit({
        tenantId, cost: r.cost, model: r.model, frameId: r.frameId, idempotencyKey: r.idempotencyKey, lane: r.lane,
        now: r.now, hour: hourIndex(r.now), idempotencyRetentionMs: RETENTION_MS, chargeTtlMs: CHARGE_TTL_MS,
        resetAt,
      });
    } catch (err) {
      // The script may have run before the connection dropped: refund it once Redis is back.
      if (err instanceof LedgerUnavailableError && sent && this.#uncertain.size < MAX_UNCERTAIN) {
        this.#uncertain.set(`${tenantId}\n${r.frameId}`, { tenantId, frameId: r.frameId });
      }
      throw err;
    }
    const lane = res.lane as LedgerLane;
    switch (res.outcome) {
      case DebitOutcome.granted:
        return { ok: true, charged: res.charged, remaining: res.remaining, lane, resetAt, frameId: res.frameId };
      case DebitOutcome.idempotentRepeat:
        return { ok: true, charged: 0, remaining: res.remaining, lane, resetAt, frameId: res.frameId, duplicate: 'idempotency', storedResult: res.storedResult };
      case DebitOutcome.frameRepeat:
        return { ok: true, charged: 0, remaining: res.remaining, lane, resetAt, frameId: res.frameId, duplicate: 'frame' };
      case DebitOutcome.modelNotInPlan:
        return { ok: false, reason: 'model_not_in_plan', remaining: res.remaining, resetAt, retryAfterS: secondsToNextHour(r.now) };
      default:
        return { ok: false, reason: 'insufficient_tokens', remaining: res.remaining, resetAt, retryAfterS: secondsToNextHour(r.now) };
    }
  }

  /** Refunds a charged frame once (one Lua script). */
  async refund(tenantId: string, frameId: string, reason: string, now?: number): Promise<RefundResult> {
    checkId('tenantId', tenantId);
    checkToken('frameId', frameId);
    if (typeof reason !== 'string' || reason.length === 0 || reason.length > 200) throw new LedgerInputError('reason must be a non-empty string');
    const at = now === undefined ? this.#clock() : checkNow('now', now);
    for (let attempt = 0; attempt < 3; attempt++) {
      const idempotencyKey = await this.#store.chargeIdempotencyKey(tenantId, frameId);
      const res = await this.#store.refund({ tenantId, frameId, reason, now: at, hour: hourIndex(at), idempotencyKey });
      if (res) return res;
    }
    throw new LedgerUnavailableError(`refund of frame ${frameId} kept racing with its debit`);
  }

  /** Stores an idempotent request's result for its repeats. */
  async recordIdempotentResult(tenantId: string, idempotencyKey: string, result: string): Promise<void> {
    checkId('tenantId', tenantId);
    checkIdempotencyKey('idempotencyKey', idempotencyKey);
    if (typeof result !== 'string') throw new LedgerInputError('result must be a string');
    await this.#store.setIdempotentResult(tenantId, idempotencyKey, result, RETENTION_MS);
  }

  /** Adds non-expiring tokens; audited. */
  async topup(tenantId: string, tokens: number, options: TopupOptions = {}): Promise<Balance> {
    checkId('tenantId', tenantId);
    checkPositiveInt('tokens', tokens);
    const now = options.now === undefined ? this.#clock() : checkNow('options.now', options.now);
    await this.#store.topup({ tenantId, tokens, now, hour: hourIndex(now), actor: options.actor ?? 'admin' });
    return (await this.#mustTenant(tenantId, now)).balance;
  }

  /** Changes a tenant's plan at once; audited. */
  async setPlan(tenantId: string, plan: string, options: SetPlanOptions = {}): Promise<Tenant> {
    checkId('tenantId', tenantId);
    checkPlanName('plan', plan);
    const now = options.now === undefined ? this.#clock() : checkNow('options.now', options.now);
    const elastic = options.elastic === undefined ? 'keep' : options.elastic === null ? 'clear' : checkElastic('options.elastic', options.elastic);
    await this.#store.setPlan({ tenantId, plan, now, hour: hourIndex(now), elastic, actor: options.actor ?? 'admin' });
    return this.#mustTenant(tenantId, now);
  }

  // ---- reports -------------------------------------------------------------

  async #auditOf(tenantId: string): Promise<AuditEntry[]> {
    return (await this.#store.auditJsons(tenantId)).map((json) => auditFromJson(json, tenantId));
  }

  /** Balances, hourly usage by model for 24 h and audited changes. */
  async usage(tenantId: string): Promise<UsageReport> {
    checkId('tenantId', tenantId);
    const now = this.#clock();
    const t = await this.#mustTenant(tenantId, now);
    return {
      tenantId, plan: t.plan, elastic: t.elastic, balance: t.balance, hourly: usageFromHash(await this.#store.usageHash(tenantId), now),
      changes: await this.#auditOf(tenantId), refusals: refusalsFromHash(await this.#store.refusalsHash(tenantId), now),
      notifications: notifiedFromHash(await this.#store.notifiedHash(tenantId)),
    };
  }

  /** Audited changes, oldest first. */
  async audit(tenantId: string): Promise<AuditEntry[]> {
    checkId('tenantId', tenantId);
    await this.#mustTenant(tenantId, this.#clock());
    return this.#auditOf(tenantId);
  }

  async #decide(tenantId: string, now: number): Promise<{ decision: ElasticDecision; elastic: boolean }> {
    const t = await this.#mustTenant(tenantId, now);
    const input = elasticInputFrom(t, await this.listPlans(), usageFromHash(await this.#store.usageHash(tenantId), now), now);
    if (!input) return { decision: { action: 'stay', fromPlan: t.plan, toPlan: t.plan, forecast: 0, belowHours: 0, hour: hourIndex(now) }, elastic: false };
    return { decision: decideElastic(input), elastic: true };
  }

  /** The elastic decision for a tenant now, not applied. */
  async evaluateElastic(tenantId: string, now?: number): Promise<ElasticDecision> {
    checkId('tenantId', tenantId);
    return (await this.#decide(tenantId, now === undefined ? this.#clock() : checkNow('now', now))).decision;
  }

  /** Evaluates and applies the elastic decision (skipped if the plan changed meanwhile). */
  async applyElastic(tenantId: string, now?: number): Promise<ElasticDecision> {
    checkId('tenantId', tenantId);
    const at = now === undefined ? this.#clock() : checkNow('now', now);
    const { decision, elastic } = await this.#decide(tenantId, at);
    if (!elastic) return decision;
    const applied = await this.#store.setPlan({
      tenantId, plan: decision.toPlan, now: at, hour: hourIndex(at), elastic: 'keep', actor: 'elastic',
      expectPlan: decision.fromPlan, belowHours: decision.belowHours, evaluatedHour: decision.hour,
    });
    return applied ? decision : { ...decision, action: 'stay', toPlan: decision.fromPlan };
  }

  // ---- webhooks and the outbox ---------------------------------------------

  /** Sets the webhook with a fresh secret. */
  async setWebhook(tenantId: string, input: WebhookInput): Promise<WebhookWithSecret> {
    checkId('tenantId', tenantId);
    const w = checkWebhookInput(input);
    const now = this.#clock();
    await this.#store.setWebhook({ tenantId, url: w.url, secret: generateWebhookSecret(), events: w.events, threshold: w.threshold, now });
    const stored = webhookFromHash(tenantId, await this.#store.webhookHash(tenantId));
    if (!stored) throw new LedgerNotFoundError(`tenant ${tenantId}: webhook removed concurrently`);
    return stored;
  }

  /** The webhook with its secret, or `null`. */
  async getWebhook(tenantId: string): Promise<WebhookWithSecret | null> {
    checkId('tenantId', tenantId);
    return webhookFromHash(tenantId, await this.#store.webhookHash(tenantId));
  }

  /** Removes the webhook and its pending events. */
  async deleteWebhook(tenantId: string): Promise<boolean> {
    checkId('tenantId', tenantId);
    return this.#store.deleteWebhook(tenantId);
  }

  /** Pending events of a tenant, oldest first. */
  async pendingEvents(tenantId: string): Promise<OutboxEvent[]> {
    checkId('tenantId', tenantId);
    return (await this.#store.outboxEventJsons())
      .map(eventFromJson)
      .filter((e) => e.tenantId === tenantId)
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Claims due events under a lease (one script). */
  async claimEvents(options: { limit: number; leaseMs: number; now?: number }): Promise<OutboxEvent[]> {
    const c = checkClaim(options, this.#clock);
    return (await this.#store.claimEvents(c)).map(eventFromJson);
  }

  /** Records a delivery attempt and settles or reschedules the event (one script). */
  async completeEvent(event: OutboxEvent, attempt: DeliveryAttempt): Promise<void> {
    checkId('event.tenantId', event?.tenantId);
    checkToken('event.id', event.id);
    const a = checkDelivery(attempt, this.#clock);
    await this.#store.completeEvent({
      tenantId: event.tenantId, eventId: event.id, outcome: a.outcome, nextAttemptAt: a.nextAttemptAt, now: a.now, status: a.status,
      error: a.error, durationMs: a.durationMs, logLimit: DELIVERY_LOG_LIMIT,
    });
  }

  /** The delivery log, newest first. */
  async deliveries(tenantId: string, limit = DELIVERY_LOG_LIMIT): Promise<DeliveryRecord[]> {
    checkId('tenantId', tenantId);
    checkPositiveInt('limit', limit);
    return (await this.#store.deliveryJsons(tenantId, limit)).map(deliveryFromJson);
  }

  /** Closes the connection. */
  async close(): Promise<void> {
    await this.#store.close();
  }
}
