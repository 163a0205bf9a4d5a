/**
 * Argument checks shared by both backends; failures are `LedgerInputError`s
 * whose message names the field.
 */
import { LedgerInputError } from './errors.js';
import type { CreateTenantInput, DebitRequest, DeliveryAttempt, ElasticRange, Overflow, PlanUpdate } from './types.js';

const ID_RE = /^[A-Za-z0-9_-]{1,64}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Checks an identifier (tenant id, plan name, frame id, idempotency key). */
export function checkId(field: string, value: unknown, re: RegExp = ID_RE): string {
  if (typeof value !== 'string' || !re.test(value)) {
    throw new LedgerInputError(`${field} must be 1-64 characters of letters, digits, '_' or '-'`);
  }
  return value;
}

/** Checks a plan name. */
export function checkPlanName(field: string, value: unknown): string {
  if (typeof value !== 'string' || !NAME_RE.test(value)) {
    throw new LedgerInputError(`${field} must be a plan name (letters, digits, '_', '.', '-'; at most 64)`);
  }
  return value;
}

/** Checks a positive safe integer. */
export function checkPositiveInt(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new LedgerInputError(`${field} must be a positive integer`);
  }
  return value;
}

/** Checks a frame id or idempotency key: 1-200 printable ASCII characters. */
export function checkToken(field: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(value)) {
    throw new LedgerInputError(`${field} must be 1-200 printable ASCII characters without spaces`);
  }
  return value;
}

/** Checks a client `Idempotency-Key`: 1-255 printable ASCII characters (spaces allowed). */
export function checkIdempotencyKey(field: string, value: unknown): string {
  if (typeof value !== 'string' || !/^[\x20-\x7e]{1,255}$/.test(value)) {
    throw new LedgerInputError(`${field} must be 1-255 printable ASCII characters`);
  }
  return value;
}

/** Checks an epoch-milliseconds instant. */
export function checkNow(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new LedgerInputError(`${field} must be epoch milliseconds (a non-negative integer)`);
  }
  return value;
}

/** Checks a debit request and fills defaults. */
export function checkDebit(req: DebitRequest, clock: () => number): Required<Omit<DebitRequest, 'idempotencyKey'>> & { idempotencyKey: string | null } {
  if (typeof req !== 'object' || req === null) throw new LedgerInputError('debit request must be an object');
  const lane = req.lane ?? 'standard';
  if (lane !== 'standard' && lane !== 'realtime') throw new LedgerInputError("request.lane must be 'standard' or 'realtime'");
  return {
    cost: checkPositiveInt('request.cost', req.cost),
    model: checkToken('request.model', req.model),
    frameId: checkToken('request.frameId', req.frameId),
    idempotencyKey: req.idempotencyKey === undefined ? null : checkIdempotencyKey('request.idempotencyKey', req.idempotencyKey),
    lane,
    now: req.now === undefined ? clock() : checkNow('request.now', req.now),
  };
}

/** Checks a tenant creation input. */
export function checkCreateTenant(input: CreateTenantInput, defaultPlan: string): { name: string; plan: string; id: string | null; elastic: ElasticRange | null } {
  if (typeof input !== 'object' || input === null) throw new LedgerInputError('tenant must be an object');
  if (typeof input.name !== 'string' || input.name.trim().length === 0 || input.name.length > 200) {
    throw new LedgerInputError('tenant.name must be a non-empty string of at most 200 characters');
  }
  return {
    name: input.name.trim(),
    plan: input.plan === undefined ? defaultPlan : checkPlanName('tenant.plan', input.plan),
    id: input.id === undefined ? null : checkId('tenant.id', input.id),
    elastic: input.elastic === undefined || input.elastic === null ? null : checkElastic('tenant.elastic', input.elastic),
  };
}

/** Checks an elastic range's shape (plan existence is checked by the store). */
export function checkElastic(field: string, value: ElasticRange): ElasticRange {
  if (typeof value !== 'object' || value === null) throw new LedgerInputError(`${field} must be an object {minPlan, maxPlan}`);
  return { minPlan: checkPlanName(`${field}.minPlan`, value.minPlan), maxPlan: checkPlanName(`${field}.maxPlan`, value.maxPlan) };
}

/** Checks a plan update; `existing` false requires `tokensPerHour`. */
export function checkPlanUpdate(update: PlanUpdate, existing: boolean): PlanUpdate {
  if (typeof update !== 'object' || update === null) throw new LedgerInputError('plan must be an object');
  const out: PlanUpdate = {};
  if (update.tokensPerHour !== undefined) out.tokensPerHour = checkPositiveInt('plan.tokensPerHour', update.tokensPerHour);
  else if (!existing) throw new LedgerInputError('plan.tokensPerHour must be a positive integer (required for a new plan)');
  if (update.models !== undefined) {
    if (update.models !== null && (!Array.isArray(update.models) || update.models.length === 0)) {
      throw new LedgerInputError('plan.models must be a non-empty array of model ids, or null for every model');
    }
    out.models = update.models === null ? null : update.models.map((m, i) => checkToken(`plan.models[${i}]`, m));
  }
  if (update.overflow !== undefined) out.overflow = checkOverflow(update.overflow);
  return out;
}

function checkOverflow(value: unknown): Overflow {
  if (value !== 'reject' && value !== 'best-effort') throw new LedgerInputError("plan.overflow must be 'reject' or 'best-effort'");
  return value;
}

/** Checks the options of `claimEvents`. */
export function checkClaim(o: { limit: number; leaseMs: number; now?: number }, clock: () => number): { limit: number; leaseMs: number; now: number } {
  if (typeof o !== 'object' || o === null) throw new LedgerInputError('options must be an object {limit, leaseMs}');
  return {
    limit: checkPositiveInt('options.limit', o.limit),
    leaseMs: checkPositiveInt('options.leaseMs', o.leaseMs),
    now: o.now === undefined ? clock() : checkNow('options.now', o.now),
  };
}

/** Checks a delivery attempt reported by the notifier. */
export function checkDelivery(a: DeliveryAttempt, clock: () => number): Required<Omit<DeliveryAttempt, 'error'>> & { error?: string } {
  if (typeof a !== 'object' || a === null) throw new LedgerInputError('attempt must be an object');
  if (a.outcome !== 'delivered' && a.outcome !== 'retrying' && a.outcome !== 'failed') throw new LedgerInputError("attempt.outcome must be 'delivered', 'retrying' or 'failed'");
  if (a.status !== null && (!Number.isInteger(a.status) || a.status < 100 || a.status > 599)) throw new LedgerInputError('attempt.status must be an HTTP status or null');
  if (typeof a.durationMs !== 'number' || !Number.isFinite(a.durationMs) || a.durationMs < 0) throw new LedgerInputError('attempt.durationMs must be a non-negative number');
  if (a.error !== undefined && (typeof a.error !== 'string' || a.error.length > 500)) throw new LedgerInputError('attempt.error must be a string of at most 500 characters');
  const now = a.now === undefined ? clock() : checkNow('attempt.now', a.now);
  const next = a.outcome === 'retrying' ? checkNow('attempt.nextAttemptAt', a.nextAttemptAt) : 0;
  const out = { outcome: a.outcome, status: a.status, durationMs: Math.round(a.durationMs), now, nextAttemptAt: next } as Required<Omit<DeliveryAttempt, 'error'>> & { error?: string };
  if (a.error !== undefined) out.error = a.error;
  return out;
}
