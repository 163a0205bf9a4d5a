/**
 * Data shapes of the ledger (SPEC.md §7). Times are epoch milliseconds in
 * arguments and ISO-8601 strings in answers; token amounts are integers.
 */

/** What happens when a tenant's tokens run out. */
export type Overflow = 'reject' | 'best-effort';

/** Lane a frame is served in (SPEC.md §8). */
export type LedgerLane = 'realtime' | 'standard' | 'best-effort';

/** A token plan. */
export interface Plan {
  /** Plan name, e.g. `free`. */
  name: string;
  /** Hourly token budget, reset at the start of each UTC hour. */
  tokensPerHour: number;
  /** Model ids the plan may use; `null` allows every model. */
  models: string[] | null;
  /** `reject` answers 429 when exhausted; `best-effort` serves from idle capacity, uncharged. */
  overflow: Overflow;
}

/** Fields of a plan that `putPlan` may set (missing fields keep their value, or a default for a new plan). */
export interface PlanUpdate {
  tokensPerHour?: number;
  models?: string[] | null;
  overflow?: Overflow;
}

/** Elastic plan range a tenant opted into. */
export interface ElasticRange {
  minPlan: string;
  maxPlan: string;
}

/** Token balances of a tenant at one instant. */
export interface Balance {
  /** The tenant's plan. */
  plan: string;
  /** That plan's hourly budget. */
  tokensPerHour: number;
  /** Tokens charged against the hourly budget this UTC hour. */
  usedThisHour: number;
  /** `max(0, tokensPerHour − usedThisHour)`. */
  hourlyRemaining: number;
  /** Non-expiring top-up balance, spent after the hourly budget. */
  topupBalance: number;
  /** `hourlyRemaining + topupBalance`. */
  remaining: number;
  /** Start of the next UTC hour (ISO-8601), when the hourly budget resets. */
  resetAt: string;
}

/** Elastic range of a tenant with the state of its move-down rule. */
export interface ElasticState extends ElasticRange {
  /** Consecutive evaluated hours whose forecast was below the next plan down. */
  belowHours: number;
  /** Start (ISO-8601) of the last hour evaluated, or `null`. */
  evaluatedHour: string | null;
}

/** A tenant with its current balances. */
export interface Tenant {
  id: string;
  name: string;
  plan: string;
  /** Creation time (ISO-8601). */
  createdAt: string;
  /** Elastic range and state, or `null` when the plan is fixed. */
  elastic: ElasticState | null;
  balance: Balance;
}

/** Input of `createTenant`. */
export interface CreateTenantInput {
  name: string;
  /** Plan name; default `free`. */
  plan?: string;
  /** Explicit id (letters, digits, `_` and `-`); generated when absent. */
  id?: string;
  elastic?: ElasticRange | null;
}

/** An API key as answered once, at creation: the plaintext is never stored. */
export interface CreatedApiKey {
  /** Key id (not secret), for listing and revocation. */
  id: string;
  tenantId: string;
  /** The plaintext key. Shown once; only its SHA-256 is stored. */
  key: string;
  /** First characters of the key, to recognise it in listings. */
  prefix: string;
  createdAt: string;
}

/** Stored metadata of an API key (no secret). */
export interface ApiKeyInfo {
  id: string;
  tenantId: string;
  prefix: string;
  createdAt: string;
}

/** A debit request for one frame at admission. */
export interface DebitRequest {
  /** Tokens the frame costs (see `frameCost`), a positive integer. */
  cost: number;
  /** Model id (usage is kept per model; checked against the plan's models). */
  model: string;
  /** Frame id, unique per tenant: a second debit of the same frame charges nothing. */
  frameId: string;
  /** Client `Idempotency-Key`: a repeat within 24 h charges nothing and returns the stored result. */
  idempotencyKey?: string;
  /** Lane the frame asks for (`standard` for REST, `realtime` for streams); default `standard`. */
  lane?: 'standard' | 'realtime';
  /** Instant of the debit (epoch ms); default the ledger's clock. */
  now?: number;
}

/** A granted debit. */
export interface DebitGranted {
  ok: true;
  /** Tokens charged now (0 for best-effort and for repeats). */
  charged: number;
  /** Tokens left after this debit (hourly + top-up). */
  remaining: number;
  /** `best-effort` when served uncharged from idle capacity. */
  lane: LedgerLane;
  /** Start of the next UTC hour (ISO-8601). */
  resetAt: string;
  /** Frame id the charge is recorded under (the first frame's id for an idempotent repeat). */
  frameId: string;
  /** Present on a repeat: `idempotency` (same `Idempotency-Key`) or `frame` (same frame id). */
  duplicate?: 'idempotency' | 'frame';
  /** On an idempotent repeat: the stored result of the first request (`null` while it is still running). */
  storedResult?: string | null;
}

/** A refused debit (nothing charged). */
export interface DebitDenied {
  ok: false;
  /** `insufficient_tokens` (429) or `model_not_in_plan` (403). */
  reason: 'insufficient_tokens' | 'model_not_in_plan';
  remaining: number;
  resetAt: string;
  /** Seconds until the next UTC hour, when the hourly budget comes back. */
  retryAfterS: number;
}

/** Answer of `debit`. */
export type DebitResult = DebitGranted | DebitDenied;

/** Answer of `refund`. */
export interface RefundResult {
  /** Tokens given back now: 0 when the frame was unknown, uncharged or already refunded. */
  refunded: number;
  /** Tokens left after the refund. */
  remaining: number;
}

/** Tokens charged for one model in one UTC hour. */
export interface UsageBucket {
  /** Start of the hour (ISO-8601). */
  hour: string;
  model: string;
  /** Tokens charged (before refunds). */
  tokens: number;
  /** Tokens refunded from those charges. */
  refunded: number;
  /** Charged frames. */
  frames: number;
}

/** One audited change to a tenant's plan or balance. */
export interface AuditEntry {
  at: string;
  tenantId: string;
  kind: 'plan' | 'topup';
  /** Plan before and after (`kind: 'plan'`). */
  fromPlan?: string;
  toPlan?: string;
  /** Tokens added (`kind: 'topup'`). */
  tokens?: number;
  /** Who made the change: `admin`, `elastic`, … */
  actor: string;
}

/** Usage report of one tenant (gateway `GET /v1/usage`, admin usage). */
export interface UsageReport {
  tenantId: string;
  plan: string;
  elastic: ElasticState | null;
  balance: Balance;
  /** The last 24 UTC hours (current included), oldest first, one bucket per model used. */
  hourly: UsageBucket[];
  /** Audited plan changes and top-ups, oldest first. */
  changes: AuditEntry[];
  /** Debits refused in the last 24 UTC hours, by hour and reason, oldest first. */
  refusals: RefusalBucket[];
  /** Webhook delivery attempts by event type and outcome. */
  notifications: NotificationCount[];
}

/** Options of `setPlan`. */
export interface SetPlanOptions {
  /** Elastic range to set; `null` turns elastic off; absent keeps the current setting. */
  elastic?: ElasticRange | null;
  /** Who asks (audit log); default `admin`. */
  actor?: string;
  now?: number;
}

/** Options of `topup`. */
export interface TopupOptions {
  actor?: string;
  now?: number;
}

/**
 * Tenant notification events (issue #9), each appended once to the tenant's
 * outbox in the same atomic step that causes it:
 * - `balance_low`: a debit left `remaining` at or below the tenant's threshold;
 * - `budget_exhausted`: a debit used the last token, or was refused (or sent
 *   to the best-effort lane) for lack of tokens;
 * - `plan_changed`: an operator or the elastic rule changed the plan;
 * - `best_effort_entered` / `best_effort_left`: the first frame served
 *   uncharged in the best-effort lane, and the first charged frame after it.
 * `balance_low` and `budget_exhausted` fire at most once per budget period: the
 * period ends at the next UTC hour, a top-up or a plan change.
 */
export type NotificationEvent = 'balance_low' | 'budget_exhausted' | 'plan_changed' | 'best_effort_entered' | 'best_effort_left';

/** A tenant's webhook as configured (the secret is answered only when set). */
export interface WebhookConfig {
  tenantId: string;
  /** `https://…` (plain `http://` only for localhost receivers). */
  url: string;
  /** Events delivered to it. */
  events: NotificationEvent[];
  /** `balance_low` fires when `remaining` falls to this many tokens or fewer; `null`: never. */
  threshold: number | null;
  createdAt: string;
}

/** A webhook with its signing secret: answered once by `setWebhook`, and read by the notifier. */
export interface WebhookWithSecret extends WebhookConfig {
  /** HMAC-SHA256 key of `X-Yoloscale-Signature` (`whsec_…`). */
  secret: string;
}

/** Input of `setWebhook`. */
export interface WebhookInput {
  url: string;
  /** Default: every event. */
  events?: NotificationEvent[];
  /** Default `null` (no `balance_low`). */
  threshold?: number | null;
}

/** One event waiting in (or claimed from) the outbox. */
export interface OutboxEvent {
  /** Unique event id (`ev_…`), sent to receivers so they can drop repeats. */
  id: string;
  tenantId: string;
  type: NotificationEvent;
  /** When it happened (ISO-8601). */
  at: string;
  /** Event fields (e.g. `remaining`, `threshold`, `resetAt`, `fromPlan`, `toPlan`). */
  data: Record<string, unknown>;
  /** Delivery attempts made so far. */
  attempts: number;
}

/** Result of one delivery attempt, as the notifier reports it. */
export interface DeliveryAttempt {
  /** `delivered` (2xx), `retrying` (will be tried again) or `failed` (given up). */
  outcome: 'delivered' | 'retrying' | 'failed';
  /** HTTP status, or `null` when no answer came (refused, timed out). */
  status: number | null;
  /** Why it failed (`timeout`, `ECONNREFUSED`, `HTTP 500`…), absent on success. */
  error?: string;
  durationMs: number;
  /** When to try again (epoch ms), for `retrying`. */
  nextAttemptAt?: number;
  /** When the attempt started (epoch ms); default the ledger's clock. */
  now?: number;
}

/** One attempt in a tenant's delivery log (newest first when listed). */
export interface DeliveryRecord {
  eventId: string;
  type: NotificationEvent;
  /** 1 for the first attempt. */
  attempt: number;
  at: string;
  outcome: 'delivered' | 'retrying' | 'failed';
  status: number | null;
  error?: string;
  durationMs: number;
}

/** Refusals of one reason in one UTC hour. */
export interface RefusalBucket {
  hour: string;
  /** `insufficient_tokens` or `model_not_in_plan`. */
  reason: string;
  count: number;
}

/** Notification attempts of one event type and outcome (all time). */
export interface NotificationCount {
  type: NotificationEvent;
  outcome: 'delivered' | 'retrying' | 'failed';
  count: number;
}
