/**
 * The one ledger interface (SPEC.md §7) with two backends: SQLite
 * (`SqliteLedger`, embedded default) and Redis (`RedisLedger`, Lua scripts).
 * Both pass the same contract test suite (test/ledger/contract.test.ts).
 *
 * Invariants every backend keeps:
 * - a debit is atomic: it never overdraws a balance, whatever the concurrency;
 * - the hourly budget is spent before the top-up balance;
 * - a frame is charged at most once (by frame id and by idempotency key) and
 *   refunded at most once, and only if it was charged;
 * - a plan change takes effect at once: this hour's remaining budget becomes
 *   `max(0, newPlan.tokensPerHour − usedThisHour)`;
 * - plan changes and top-ups are audited.
 * Operations that cannot reach the store throw `LedgerUnavailableError` quickly.
 */
import type { ElasticDecision } from './elastic.js';
import type {
  ApiKeyInfo,
  AuditEntry,
  Balance,
  CreatedApiKey,
  CreateTenantInput,
  DebitRequest,
  DeliveryAttempt,
  DeliveryRecord,
  OutboxEvent,
  WebhookInput,
  WebhookWithSecret,
  DebitResult,
  Plan,
  PlanUpdate,
  RefundResult,
  SetPlanOptions,
  Tenant,
  TopupOptions,
  UsageReport,
} from './types.js';

/** Which store a ledger uses. */
export type LedgerBackend = 'sqlite' | 'redis';

/** A tenant resolved from an API key. */
export interface AuthenticatedTenant {
  tenantId: string;
  keyId: string;
  plan: Plan;
}

/** The token ledger: tenants, API keys, plans, balances, usage and audit. */
export interface Ledger {
  /** Store behind this ledger. */
  readonly backend: LedgerBackend;

  /** Every plan, cheapest first. */
  listPlans(): Promise<Plan[]>;
  /** One plan, or `null`. */
  getPlan(name: string): Promise<Plan | null>;
  /** Creates or edits a plan; takes effect at once for every tenant on it. */
  putPlan(name: string, update: PlanUpdate): Promise<Plan>;

  /** Creates a tenant on a plan (default `free`). */
  createTenant(input: CreateTenantInput): Promise<Tenant>;
  /** One tenant with its balances, or `null`. */
  getTenant(id: string): Promise<Tenant | null>;
  /** Every tenant, oldest first. */
  listTenants(): Promise<Tenant[]>;

  /** Creates an API key; the plaintext is in the answer only (only its SHA-256 is stored). */
  createApiKey(tenantId: string): Promise<CreatedApiKey>;
  /** Keys of a tenant, without secrets. */
  listApiKeys(tenantId: string): Promise<ApiKeyInfo[]>;
  /** Resolves a plaintext key to its tenant, or `null` for an unknown key. */
  authenticate(key: string): Promise<AuthenticatedTenant | null>;

  /** Current balances of a tenant. */
  balance(tenantId: string): Promise<Balance>;
  /** Atomic debit of one frame at admission (see {@link DebitResult}). */
  debit(tenantId: string, request: DebitRequest): Promise<DebitResult>;
  /**
   * Gives back what a frame was charged (failed, dropped, timed out).
   * Idempotent: a frame is refunded at most once and only if it was charged.
   * Its idempotency record, if any, is forgotten so a retry is served again.
   */
  refund(tenantId: string, frameId: string, reason: string, now?: number): Promise<RefundResult>;
  /** Stores the result of an idempotent request, answered to its repeats for 24 h. */
  recordIdempotentResult(tenantId: string, idempotencyKey: string, result: string): Promise<void>;
  /** Adds non-expiring tokens (spent after the hourly budget); audited. */
  topup(tenantId: string, tokens: number, options?: TopupOptions): Promise<Balance>;
  /** Changes a tenant's plan at once (and optionally its elastic range); audited. */
  setPlan(tenantId: string, plan: string, options?: SetPlanOptions): Promise<Tenant>;

  /** Balances, hourly usage by model for 24 h and audited changes. */
  usage(tenantId: string): Promise<UsageReport>;
  /** Audited plan changes and top-ups of a tenant, oldest first. */
  audit(tenantId: string): Promise<AuditEntry[]>;

  /** The elastic decision for a tenant now, without applying it (`stay` for fixed plans). */
  evaluateElastic(tenantId: string, now?: number): Promise<ElasticDecision>;
  /** Evaluates and applies the elastic decision (plan change audited with actor `elastic`). */
  applyElastic(tenantId: string, now?: number): Promise<ElasticDecision>;

  /**
   * Sets (or replaces) the tenant's webhook with a fresh signing secret, answered
   * here only; the notification flags start over.
   */
  setWebhook(tenantId: string, input: WebhookInput): Promise<WebhookWithSecret>;
  /** The tenant's webhook with its secret (for the notifier), or `null`. */
  getWebhook(tenantId: string): Promise<WebhookWithSecret | null>;
  /** Removes the webhook and its pending events; `false` when there was none. */
  deleteWebhook(tenantId: string): Promise<boolean>;
  /** Events of a tenant still waiting for delivery, oldest first. */
  pendingEvents(tenantId: string): Promise<OutboxEvent[]>;
  /**
   * Claims up to `limit` events due now from every tenant's outbox, oldest
   * first, and hides them for `leaseMs` (a notifier that dies mid-delivery
   * leaves them to be claimed again).
   */
  claimEvents(options: { limit: number; leaseMs: number; now?: number }): Promise<OutboxEvent[]>;
  /**
   * Records one delivery attempt of `event` in the tenant's delivery log and
   * counters; `delivered` and `failed` remove the event from the outbox,
   * `retrying` makes it due again at `nextAttemptAt`.
   */
  completeEvent(event: OutboxEvent, attempt: DeliveryAttempt): Promise<void>;
  /** The tenant's delivery log, newest first (at most the last 100 attempts). */
  deliveries(tenantId: string, limit?: number): Promise<DeliveryRecord[]>;

  /** Closes the store connection. */
  close(): Promise<void>;
}

/** Options shared by both backends. */
export interface LedgerCommonOptions {
  /** Clock in epoch milliseconds (injectable for tests); default `Date.now`. */
  now?: () => number;
}
