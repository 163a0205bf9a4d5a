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
