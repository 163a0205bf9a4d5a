/**
 * SQLite backend of the ledger (better-sqlite3 v12): the embedded default, one
 * file in the data directory, WAL journal, every multi-step operation in one
 * `BEGIN IMMEDIATE` transaction so several connections (processes) stay exact.
 */
import Database from 'better-sqlite3';
import { generateApiKey, hashApiKey, hashesEqual, keyDisplayPrefix, randomId } from './api-keys.js';
import { HOUR_MS, hourIndex, hourStartIso, resetAtIso, secondsToNextHour } from './clock.js';
import { decideElastic, elasticInputFrom, type ElasticDecision } from './elastic.js';
import {
  LedgerConflictError,
  LedgerError,
  LedgerInputError,
  LedgerNotFoundError,
  LedgerUnavailableError,
} from './errors.js';
import type { AuthenticatedTenant, Ledger, LedgerCommonOptions } from './ledger.js';
import {
  SCHEMA,
  UNAVAILABLE_CODES,
  planFromRow,
  type AuditRow,
  type ChargeRow,
  type IdemRow,
  type PlanRow,
  type TenantRow,
  type UsageRow,
} from './sqlite-schema.js';
import { DEFAULT_PLAN_NAME, DEFAULT_PLANS } from './pricing.js';
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
  ElasticRange,
  LedgerLane,
  Plan,
  PlanUpdate,
  RefundResult,
  SetPlanOptions,
  OutboxEvent,
  Tenant,
  TopupOptions,
  UsageBucket,
  UsageReport,
  WebhookInput,
  WebhookWithSecret,
} from './types.js';
import { SqliteOutbox } from './sqlite-outbox.js';
import { DELIVERY_LOG_LIMIT, checkWebhookInput } from './webhook.js';
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
  checkDelivery,
  checkClaim,
} from './validate.js';

/** Options of {@link SqliteLedger}. */
export interface SqliteLedgerOptions extends LedgerCommonOptions {
  /** Database file (created if missing), or `:memory:`. */
  path: string;
  /** How long a connection waits for another one's write lock; default 5000 ms. */
  busyTimeoutMs?: number;
}

/** How long idempotency records and frame charges are kept (24 h). */
const RETENTION_MS = 24 * HOUR_MS;

/** The SQLite ledger. Create with {@link SqliteLedger.open}. */
export class SqliteLedger implements Ledger {
  /** Store behind this ledger. */
  readonly backend = 'sqlite' as const;
  readonly #db: Database.Database;
  readonly #clock: () => number;
  readonly #statements = new Map<string, Database.Statement>();
  readonly #outbox: SqliteOutbox;

  private constructor(db: Database.Database, clock: () => number) {
    this.#db = db;
    this.#clock = clock;
    this.#outbox = new SqliteOutbox((sql) => this.#stmt(sql));
  }

  /**
   * Opens (creating if needed) the ledger file, switches it to WAL, creates the
   * schema and seeds the default plans of SPEC.md §7 where missing.
   * @throws LedgerInputError for bad options; LedgerUnavailableError when the file cannot be opened
   */
  static open(options: SqliteLedgerOptions): SqliteLedger {
    if (typeof options !== 'object' || options === null) throw new LedgerInputError('options must be an object');
    if (typeof options.path !== 'string' || options.path.length === 0) throw new LedgerInputError('options.path must be a non-empty string');
    const busy = options.busyTimeoutMs ?? 5000;
    if (!Number.isSafeInteger(busy) || busy < 0) throw new LedgerInputError('options.busyTimeoutMs must be a non-negative integer');
    if (options.now !== undefined && typeof options.now !== 'function') throw new LedgerInputError('options.now must be a function');
    let db: Database.Database;
    try {
      db = new Database(options.path, { timeout: busy });
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
      db.exec(SCHEMA);
      const seed = db.prepare('INSERT OR IGNORE INTO plans (name, tokens_per_hour, models, overflow) VALUES (?, ?, ?, ?)');
      db.transaction(() => {
        for (const p of DEFAULT_PLANS) seed.run(p.name, p.tokensPerHour, p.models === null ? null : JSON.stringify(p.models), p.overflow);
      }).immediate();
    } catch (err) {
      throw new LedgerUnavailableError(`cannot open ledger database ${options.path}: ${(err as Error).message}`, { cause: err });
    }
    return new SqliteLedger(db, options.now ?? Date.now);
  }

  // ---- plumbing ------------------------------------------------------------

  /** A prepared statement, compiled once per connection. */
  #stmt(sql: string): Database.Statement {
    let st = this.#statements.get(sql);
    if (!st) {
      st = this.#db.prepare(sql);
      this.#statements.set(sql, st);
    }
    return st;
  }

  /** Runs `fn` in an immediate transaction, mapping store failures to typed errors. */
  #tx<T>(fn: () => T): T {
    try {
      return this.#db.transaction(fn).immediate();
    } catch (err) {
      throw this.#mapError(err);
    }
  }

  #mapError(err: unknown): Error {
    if (err instanceof LedgerError) return err;
    const code = (err as { code?: unknown }).code;
    if (err instanceof Database.SqliteError && typeof code === 'string' && UNAVAILABLE_CODES.has(code.split('_').slice(0, 2).join('_'))) {
      return new LedgerUnavailableError(`ledger database unavailable: ${err.message}`, { cause: err });
    }
    if (!this.#db.open) return new LedgerUnavailableError('ledger database is closed', { cause: err });
    return err instanceof Error ? err : new Error(String(err));
  }

  #tenantRow(id: string): TenantRow {
    const row = this.#stmt('SELECT * FROM tenants WHERE id = ?').get(id) as TenantRow | undefined;
    if (!row) throw new LedgerNotFoundError(`tenant ${id} not found`);
    return row;
  }

  #planRow(name: string): Plan {
    const row = this.#stmt('SELECT * FROM plans WHERE name = ?').get(name) as PlanRow | undefined;
    if (!row) throw new LedgerNotFoundError(`plan ${name} not found`);
    return planFromRow(row);
  }

  #balanceOf(t: TenantRow, now: number): Balance {
    const plan = this.#planRow(t.plan);
    const used = t.hour === hourIndex(now) ? t.used : 0;
    const hourlyRemaining = Math.max(0, plan.tokensPerHour - used);
    return {
      plan: plan.name,
      tokensPerHour: plan.tokensPerHour,
      usedThisHour: used,
      hourlyRemaining,
      topupBalance: t.topup,
      remaining: hourlyRemaining + t.topup,
      resetAt: resetAtIso(now),
    };
  }

  #tenantOf(t: TenantRow, now: number): Tenant {
    return {
      id: t.id,
      name: t.name,
      plan: t.plan,
      createdAt: new Date(t.created_at).toISOString(),
      elastic:
        t.elastic_min !== null && t.elastic_max !== null
          ? {
              minPlan: t.elastic_min,
              maxPlan: t.elastic_max,
              belowHours: t.below_hours,
              evaluatedHour: t.evaluated_hour === null ? null : hourStartIso(t.evaluated_hour),
            }
          : null,
      balance: this.#balanceOf(t, now),
    };
  }

  /** Rolls the tenant's hourly counter to `now`'s hour and prunes records older than 24 h. */
  #roll(t: TenantRow, now: number): void {
    const hour = hourIndex(now);
    if (t.hour === hour) return;
    this.#stmt('UPDATE tenants SET hour = ?, used = 0 WHERE id = ?').run(hour, t.id);
    this.#stmt('DELETE FROM charges WHERE tenant_id = ? AND at < ?').run(t.id, now - RETENTION_MS - HOUR_MS);
    this.#stmt('DELETE FROM idempotency WHERE tenant_id = ? AND at < ?').run(t.id, now - RETENTION_MS);
    this.#stmt('DELETE FROM usage WHERE tenant_id = ? AND hour <= ?').run(t.id, hour - 24);
    this.#stmt('DELETE FROM refusals WHERE tenant_id = ? AND hour <= ?').run(t.id, hour - 24);
    this.#outbox.newPeriod(t.id);
    t.hour = hour;
    t.used = 0;
  }

  #audit(entry: { tenantId: string; at: number; kind: 'plan' | 'topup'; fromPlan?: string; toPlan?: string; tokens?: number; actor: string }): void {
    this.#stmt('INSERT INTO audit (tenant_id, at, kind, from_plan, to_plan, tokens, actor) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(entry.tenantId, entry.at, entry.kind, entry.fromPlan ?? null, entry.toPlan ?? null, entry.tokens ?? null, entry.actor);
  }

  #checkElasticPlans(range: ElasticRange): void {
    const min = this.#planRow(range.minPlan);
    const max = this.#planRow(range.maxPlan);
    if (min.tokensPerHour > max.tokensPerHour) throw new LedgerInputError('elastic.minPlan must not have more tokens per hour than elastic.maxPlan');
  }

  // ---- plans ---------------------------------------------------------------

  /** Every plan, cheapest first. */
  async listPlans(): Promise<Plan[]> {
    return this.#tx(() => (this.#stmt('SELECT * FROM plans ORDER BY tokens_per_hour, name').all() as PlanRow[]).map(planFromRow));
  }

  /** One plan, or `null`. */
  async getPlan(name: string): Promise<Plan | null> {
    checkPlanName('name', name);
    return this.#tx(() => {
      const row = this.#stmt('SELECT * FROM plans WHERE name = ?').get(name) as PlanRow | undefined;
      return row ? planFromRow(row) : null;
    });
  }

  /** Creates or edits a plan; takes effect at once. */
  async putPlan(name: string, update: PlanUpdate): Promise<Plan> {
    checkPlanName('name', name);
    return this.#tx(() => {
      const row = this.#stmt('SELECT * FROM plans WHERE name = ?').get(name) as PlanRow | undefined;
      const u = checkPlanUpdate(update, row !== undefined);
      const prev: Plan = row ? planFromRow(row) : { name, tokensPerHour: 0, models: null, overflow: 'reject' };
      const next: Plan = {
        name,
        tokensPerHour: u.tokensPerHour ?? prev.tokensPerHour,
        models: u.models !== undefined ? u.models : prev.models,
        overflow: u.overflow ?? prev.overflow,
      };
      this.#stmt('INSERT OR REPLACE INTO plans (name, tokens_per_hour, models, overflow) VALUES (?, ?, ?, ?)')
        .run(next.name, next.tokensPerHour, next.models === null ? null : JSON.stringify(next.models), next.overflow);
      return next;
    });
  }

  // ---- tenants and keys ----------------------------------------------------

  /** Creates a tenant. */
  async createTenant(input: CreateTenantInput): Promise<Tenant> {
    const c = checkCreateTenant(input, DEFAULT_PLAN_NAME);
    const now = this.#clock();
    return this.#tx(() => {
      this.#planRow(c.plan);
      if (c.elastic) this.#checkElasticPlans(c.elastic);
      const id = c.id ?? randomId('t_');
      if (this.#stmt('SELECT 1 FROM tenants WHERE id = ?').get(id)) throw new LedgerConflictError(`tenant ${id} already exists`);
      this.#stmt('INSERT INTO tenants (id, name, plan, created_at, hour, used, elastic_min, elastic_max) VALUES (?, ?, ?, ?, ?, 0, ?, ?)')
        .run(id, c.name, c.plan, now, hourIndex(now), c.elastic?.minPlan ?? null, c.elastic?.maxPlan ?? null);
      return this.#tenantOf(this.#tenantRow(id), now);
    });
  }

  /** One tenant, or `null`. */
  async getTenant(id: string): Promise<Tenant | null> {
    if (typeof id !== 'string') throw new LedgerInputError('id must be a string');
    const now = this.#clock();
    return this.#tx(() => {
      const row = this.#stmt('SELECT * FROM tenants WHERE id = ?').get(id) as TenantRow | undefined;
      return row ? this.#tenantOf(row, now) : null;
    });
  }

  /** Every tenant, oldest first. */
  async listTenants(): Promise<Tenant[]> {
    const now = this.#clock();
    return this.#tx(() =>
      (this.#stmt('SELECT * FROM tenants ORDER BY created_at, id').all() as TenantRow[]).map((r) => this.#tenantOf(r, now)),
    );
  }

  /** Creates an API key (plaintext answered once, hash stored). */
  async createApiKey(tenantId: string): Promise<CreatedApiKey> {
    checkId('tenantId', tenantId);
    const now = this.#clock();
    return this.#tx(() => {
      this.#tenantRow(tenantId);
      const key = generateApiKey();
      const id = randomId('k_');
      const prefix = keyDisplayPrefix(key);
      this.#stmt('INSERT INTO api_keys (id, tenant_id, key_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(id, tenantId, hashApiKey(key), prefix, now);
      return { id, tenantId, key, prefix, createdAt: new Date(now).toISOString() };
    });
  }

  /** Keys of a tenant, without secrets. */
  async listApiKeys(tenantId: string): Promise<ApiKeyInfo[]> {
    checkId('tenantId', tenantId);
    return this.#tx(() => {
      this.#tenantRow(tenantId);
      const rows = this.#stmt('SELECT id, tenant_id, prefix, created_at FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id').all(tenantId) as {
        id: string; tenant_id: string; prefix: string; created_at: number;
      }[];
      return rows.map((r) => ({ id: r.id, tenantId: r.tenant_id, prefix: r.prefix, createdAt: new Date(r.created_at).toISOString() }));
    });
  }

  /** Resolves a plaintext key to its tenant (hash lookup, constant-time hash comparison). */
  async authenticate(key: string): Promise<AuthenticatedTenant | null> {
    if (typeof key !== 'string' || key.length === 0 || key.length > 512) return null;
    const hash = hashApiKey(key);
    return this.#tx(() => {
      const row = this.#stmt('SELECT id, tenant_id, key_hash FROM api_keys WHERE key_hash = ?').get(hash) as
        | { id: string; tenant_id: string; key_hash: string }
        | undefined;
      if (!row || !hashesEqual(row.key_hash, hash)) return null;
      const t = this.#stmt('SELECT plan FROM tenants WHERE id = ?').get(row.tenant_id) as { plan: string } | undefined;
      if (!t) return null;
      return { tenantId: row.tenant_id, keyId: row.id, plan: this.#planRow(t.plan) };
    });
  }

  // ---- balances ------------------------------------------------------------

  /** Current balances of a tenant. */
  async balance(tenantId: string): Promise<Balance> {
    checkId('tenantId', tenantId);
    const now = this.#clock();
    return this.#tx(() => this.#balanceOf(this.#tenantRow(tenantId), now));
  }

  /** Atomic debit of one frame. */
  async debit(tenantId: string, request: DebitRequest): Promise<DebitResult> {
    checkId('tenantId', tenantId);
    const r = checkDebit(request, this.#clock);
    const now = r.now;
    return this.#tx((): DebitResult => {
      const t = this.#tenantRow(tenantId);
      this.#roll(t, now);
      const resetAt = resetAtIso(now);
      if (r.idempotencyKey !== null) {
        const idem = this.#stmt('SELECT frame_id, lane, result, at FROM idempotency WHERE tenant_id = ? AND key = ?').get(tenantId, r.idempotencyKey) as
          | IdemRow
          | undefined;
        if (idem && idem.at > now - RETENTION_MS) {
          return {
            ok: true, charged: 0, remaining: this.#balanceOf(t, now).remaining, lane: idem.lane as LedgerLane, resetAt,
            frameId: idem.frame_id, duplicate: 'idempotency', storedResult: idem.result,
          };
        }
      }
      const prior = this.#stmt('SELECT lane FROM charges WHERE tenant_id = ? AND frame_id = ?').get(tenantId, r.frameId) as { lane: string } | undefined;
      if (prior) {
        return { ok: true, charged: 0, remaining: this.#balanceOf(t, now).remaining, lane: prior.lane as LedgerLane, resetAt, frameId: r.frameId, duplicate: 'frame' };
      }
      const plan = this.#planRow(t.plan);
      const hourlyRemaining = Math.max(0, plan.tokensPerHour - t.used);
      if (plan.models !== null && !plan.models.includes(r.model)) {
        this.#outbox.refused(tenantId, hourIndex(now), 'model_not_in_plan');
        return { ok: false, reason: 'model_not_in_plan', remaining: hourlyRemaining + t.topup, resetAt, retryAfterS: secondsToNextHour(now) };
      }
      let fromHourly = 0;
      let fromTopup = 0;
      let lane: LedgerLane = r.lane;
      if (hourlyRemaining + t.topup >= r.cost) {
        fromHourly = Math.min(r.cost, hourlyRemaining);
        fromTopup = r.cost - fromHourly;
      } else if (plan.overflow === 'best-effort') {
        lane = 'best-effort';
      } else {
        this.#outbox.refused(tenantId, hourIndex(now), 'insufficient_tokens');
        this.#outbox.debitEvents(tenantId, { plan, lane, charged: 0, after: hourlyRemaining + t.topup, refused: true, now });
        return { ok: false, reason: 'insufficient_tokens', remaining: hourlyRemaining + t.topup, resetAt, retryAfterS: secondsToNextHour(now) };
      }
      const charged = fromHourly + fromTopup;
      const hour = hourIndex(now);
      this.#stmt('UPDATE tenants SET used = used + ?, topup = topup - ? WHERE id = ?').run(fromHourly, fromTopup, tenantId);
      this.#stmt(
          'INSERT INTO charges (tenant_id, frame_id, charged, from_hourly, from_topup, hour, model, lane, idem_key, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(tenantId, r.frameId, charged, fromHourly, fromTopup, hour, r.model, lane, r.idempotencyKey, now);
      if (charged > 0) {
        this.#stmt(
            'INSERT INTO usage (tenant_id, hour, model, tokens, frames) VALUES (?, ?, ?, ?, 1) ON CONFLICT (tenant_id, hour, model) DO UPDATE SET tokens = tokens + excluded.tokens, frames = frames + 1',
          )
          .run(tenantId, hour, r.model, charged);
      }
      if (r.idempotencyKey !== null) {
        this.#stmt('INSERT OR REPLACE INTO idempotency (tenant_id, key, frame_id, lane, result, at) VALUES (?, ?, ?, ?, NULL, ?)')
          .run(tenantId, r.idempotencyKey, r.frameId, lane, now);
      }
      const remaining = hourlyRemaining - fromHourly + t.topup - fromTopup;
      this.#outbox.debitEvents(tenantId, { plan, lane, charged, after: remaining, refused: false, now });
      return { ok: true, charged, remaining, lane, resetAt, frameId: r.frameId };
    });
  }

  /** Refunds a charged frame once. */
  async refund(tenantId: string, frameId: string, reason: string, now?: number): Promise<RefundResult> {
    checkId('tenantId', tenantId);
    checkToken('frameId', frameId);
    if (typeof reason !== 'string' || reason.length === 0 || reason.length > 200) throw new LedgerInputError('reason must be a non-empty string');
    const at = now === undefined ? this.#clock() : checkNow('now', now);
    return this.#tx(() => {
      const t = this.#tenantRow(tenantId);
      this.#roll(t, at);
      const c = this.#stmt('SELECT * FROM charges WHERE tenant_id = ? AND frame_id = ?').get(tenantId, frameId) as ChargeRow | undefined;
      if (!c || c.refunded !== 0 || c.charged === 0) return { refunded: 0, remaining: this.#balanceOf(t, at).remaining };
      // The hourly part goes back to this hour's budget when charged this hour;
      // charged in an earlier hour, it comes back as top-up (the tenant paid for it).
      const sameHour = c.hour === hourIndex(at);
      const usedBack = sameHour ? Math.min(c.from_hourly, t.used) : 0;
      const topupBack = c.from_topup + (c.from_hourly - usedBack);
      this.#stmt('UPDATE tenants SET used = used - ?, topup = topup + ? WHERE id = ?').run(usedBack, topupBack, tenantId);
      this.#stmt('UPDATE charges SET refunded = 1, refund_reason = ? WHERE tenant_id = ? AND frame_id = ?').run(reason, tenantId, frameId);
      this.#stmt('UPDATE usage SET refunded = refunded + ? WHERE tenant_id = ? AND hour = ? AND model = ?').run(c.charged, tenantId, c.hour, c.model);
      if (c.idem_key !== null) {
        this.#stmt('DELETE FROM idempotency WHERE tenant_id = ? AND key = ? AND frame_id = ?').run(tenantId, c.idem_key, frameId);
      }
      return { refunded: c.charged, remaining: this.#balanceOf(this.#tenantRow(tenantId), at).remaining };
    });
  }

  /** Stores an idempotent request's result for its repeats. */
  async recordIdempotentResult(tenantId: string, idempotencyKey: string, result: string): Promise<void> {
    checkId('tenantId', tenantId);
    checkIdempotencyKey('idempotencyKey', idempotencyKey);
    if (typeof result !== 'string') throw new LedgerInputError('result must be a string');
    this.#tx(() => {
      this.#stmt('UPDATE idempotency SET result = ? WHERE tenant_id = ? AND key = ?').run(result, tenantId, idempotencyKey);
    });
  }

  /** Adds non-expiring tokens; audited. */
  async topup(tenantId: string, tokens: number, options: TopupOptions = {}): Promise<Balance> {
    checkId('tenantId', tenantId);
    checkPositiveInt('tokens', tokens);
    const now = options.now === undefined ? this.#clock() : checkNow('options.now', options.now);
    const actor = options.actor ?? 'admin';
    return this.#tx(() => {
      const t = this.#tenantRow(tenantId);
      this.#roll(t, now);
      this.#stmt('UPDATE tenants SET topup = topup + ? WHERE id = ?').run(tokens, tenantId);
      this.#audit({ tenantId, at: now, kind: 'topup', tokens, actor });
      this.#outbox.newPeriod(tenantId);
      return this.#balanceOf(this.#tenantRow(tenantId), now);
    });
  }

  /** Changes a tenant's plan at once; audited. */
  async setPlan(tenantId: string, plan: string, options: SetPlanOptions = {}): Promise<Tenant> {
    checkId('tenantId', tenantId);
    checkPlanName('plan', plan);
    const elastic = options.elastic === undefined || options.elastic === null ? options.elastic : checkElastic('options.elastic', options.elastic);
    const now = options.now === undefined ? this.#clock() : checkNow('options.now', options.now);
    const actor = options.actor ?? 'admin';
    return this.#tx(() => {
      const t = this.#tenantRow(tenantId);
      this.#roll(t, now);
      this.#planRow(plan);
      if (elastic) {
        this.#checkElasticPlans(elastic);
        this.#stmt('UPDATE tenants SET elastic_min = ?, elastic_max = ?, below_hours = 0, evaluated_hour = NULL WHERE id = ?').run(elastic.minPlan, elastic.maxPlan, tenantId);
      } else if (elastic === null) {
        this.#stmt('UPDATE tenants SET elastic_min = NULL, elastic_max = NULL, below_hours = 0, evaluated_hour = NULL WHERE id = ?').run(tenantId);
      }
      // The used-this-hour counter is kept: remaining = max(0, new budget − used).
      this.#stmt('UPDATE tenants SET plan = ? WHERE id = ?').run(plan, tenantId);
      if (t.plan !== plan || elastic !== undefined) this.#audit({ tenantId, at: now, kind: 'plan', fromPlan: t.plan, toPlan: plan, actor });
      if (t.plan !== plan) {
        this.#outbox.newPeriod(tenantId);
        this.#outbox.emit(tenantId, 'plan_changed', now, { fromPlan: t.plan, toPlan: plan, actor });
      }
      return this.#tenantOf(this.#tenantRow(tenantId), now);
    });
  }

  // ---- reports -------------------------------------------------------------

  #hourly(tenantId: string, now: number): UsageBucket[] {
    const hour = hourIndex(now);
    const rows = this.#stmt('SELECT hour, model, tokens, refunded, frames FROM usage WHERE tenant_id = ? AND hour > ? AND hour <= ? ORDER BY hour, model')
      .all(tenantId, hour - 24, hour) as UsageRow[];
    return rows.map((r) => ({ hour: hourStartIso(r.hour), model: r.model, tokens: r.tokens, refunded: r.refunded, frames: r.frames }));
  }

  #auditOf(tenantId: string): AuditEntry[] {
    const rows = this.#stmt('SELECT * FROM audit WHERE tenant_id = ? ORDER BY seq').all(tenantId) as AuditRow[];
    return rows.map((r) => {
      const e: AuditEntry = { at: new Date(r.at).toISOString(), tenantId: r.tenant_id, kind: r.kind === 'topup' ? 'topup' : 'plan', actor: r.actor };
      if (r.from_plan !== null) e.fromPlan = r.from_plan;
      if (r.to_plan !== null) e.toPlan = r.to_plan;
      if (r.tokens !== null) e.tokens = r.tokens;
      return e;
    });
  }

  /** Balances, hourly usage by model for 24 h and audited changes. */
  async usage(tenantId: string): Promise<UsageReport> {
    checkId('tenantId', tenantId);
    const now = this.#clock();
    return this.#tx(() => {
      const t = this.#tenantOf(this.#tenantRow(tenantId), now);
      return {
        tenantId, plan: t.plan, elastic: t.elastic, balance: t.balance, hourly: this.#hourly(tenantId, now), changes: this.#auditOf(tenantId),
        refusals: this.#outbox.refusals(tenantId, now), notifications: this.#outbox.notified(tenantId),
      };
    });
  }

  /** Audited changes, oldest first. */
  async audit(tenantId: string): Promise<AuditEntry[]> {
    checkId('tenantId', tenantId);
    return this.#tx(() => {
      this.#tenantRow(tenantId);
      return this.#auditOf(tenantId);
    });
  }

  #decide(tenantId: string, now: number): { decision: ElasticDecision; elastic: boolean } {
    const t = this.#tenantOf(this.#tenantRow(tenantId), now);
    const plans = (this.#stmt('SELECT * FROM plans').all() as PlanRow[]).map(planFromRow);
    const input = elasticInputFrom(t, plans, this.#hourly(tenantId, now), now);
    if (!input) return { decision: { action: 'stay', fromPlan: t.plan, toPlan: t.plan, forecast: 0, belowHours: 0, hour: hourIndex(now) }, elastic: false };
    return { decision: decideElastic(input), elastic: true };
  }

  /** The elastic decision for a tenant now, not applied. */
  async evaluateElastic(tenantId: string, now?: number): Promise<ElasticDecision> {
    checkId('tenantId', tenantId);
    const at = now === undefined ? this.#clock() : checkNow('now', now);
    return this.#tx(() => this.#decide(tenantId, at).decision);
  }

  /** Evaluates and applies the elastic decision. */
  async applyElastic(tenantId: string, now?: number): Promise<ElasticDecision> {
    checkId('tenantId', tenantId);
    const at = now === undefined ? this.#clock() : checkNow('now', now);
    return this.#tx(() => {
      const { decision, elastic } = this.#decide(tenantId, at);
      if (!elastic) return decision;
      if (decision.action !== 'stay') {
        const t = this.#tenantRow(tenantId);
        this.#roll(t, at);
        this.#stmt('UPDATE tenants SET plan = ? WHERE id = ?').run(decision.toPlan, tenantId);
        this.#audit({ tenantId, at, kind: 'plan', fromPlan: decision.fromPlan, toPlan: decision.toPlan, actor: 'elastic' });
        this.#outbox.newPeriod(tenantId);
        this.#outbox.emit(tenantId, 'plan_changed', at, { fromPlan: decision.fromPlan, toPlan: decision.toPlan, actor: 'elastic' });
      }
      this.#stmt('UPDATE tenants SET below_hours = ?, evaluated_hour = ? WHERE id = ?').run(decision.belowHours, decision.hour, tenantId);
      return decision;
    });
  }

  // ---- webhooks and the outbox (see sqlite-outbox.ts) -----------------------

  /** Sets the webhook with a fresh secret. */
  async setWebhook(tenantId: string, input: WebhookInput): Promise<WebhookWithSecret> {
    checkId('tenantId', tenantId);
    const w = checkWebhookInput(input);
    const now = this.#clock();
    return this.#tx(() => {
      this.#tenantRow(tenantId);
      return this.#outbox.setWebhook(tenantId, w, now);
    });
  }

  /** The webhook with its secret, or `null`. */
  async getWebhook(tenantId: string): Promise<WebhookWithSecret | null> {
    checkId('tenantId', tenantId);
    return this.#tx(() => this.#outbox.getWebhook(tenantId));
  }

  /** Removes the webhook and its pending events. */
  async deleteWebhook(tenantId: string): Promise<boolean> {
    checkId('tenantId', tenantId);
    return this.#tx(() => this.#outbox.deleteWebhook(tenantId));
  }

  /** Pending events of a tenant, oldest first. */
  async pendingEvents(tenantId: string): Promise<OutboxEvent[]> {
    checkId('tenantId', tenantId);
    return this.#tx(() => this.#outbox.pending(tenantId));
  }

  /** Claims due events under a lease. */
  async claimEvents(options: { limit: number; leaseMs: number; now?: number }): Promise<OutboxEvent[]> {
    const c = checkClaim(options, this.#clock);
    return this.#tx(() => this.#outbox.claim(c));
  }

  /** Records a delivery attempt and settles or reschedules the event. */
  async completeEvent(event: OutboxEvent, attempt: DeliveryAttempt): Promise<void> {
    checkId('event.tenantId', event?.tenantId);
    checkToken('event.id', event.id);
    const a = checkDelivery(attempt, this.#clock);
    this.#tx(() => this.#outbox.complete(event.id, a));
  }

  /** The delivery log, newest first. */
  async deliveries(tenantId: string, limit = DELIVERY_LOG_LIMIT): Promise<DeliveryRecord[]> {
    checkId('tenantId', tenantId);
    checkPositiveInt('limit', limit);
    return this.#tx(() => this.#outbox.deliveries(tenantId, limit));
  }
  /** Closes the database. */
  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }
}
