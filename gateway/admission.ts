/**
 * Authentication and charging at the gateway's door (SPEC.md §5, §7): one
 * module between the routes and the ledger. It turns keys into tenants,
 * debits each frame atomically before it is sent, refunds frames that fail,
 * are dropped or time out, and maps ledger outcomes to typed errors.
 */
import { ErrorCode, YoloscaleError } from '../protocol/index.js';
import type { Lane, Logger } from '../protocol/index.js';
import { silentLogger } from '../protocol/index.js';
import { frameCost, isLedgerError } from '../ledger/index.js';
import type { AuthenticatedTenant, Balance, DebitRequest, DebitResult, Ledger, UsageReport } from '../ledger/index.js';
import type { GatewayMetrics } from './metrics.js';
import { AuthFailureLimiter } from './auth.js';

/** The part of the ledger the gateway uses. */
export type AdmissionLedger = Pick<Ledger, 'authenticate' | 'balance' | 'debit' | 'refund' | 'usage' | 'recordIdempotentResult'>;

/** An authenticated caller: its tenant id and plan (at authentication time). */
export type Principal = AuthenticatedTenant;

/** A frame the ledger accepted: what was charged and how to give it back. */
export interface Admitted {
  tenantId: string;
  frameId: string;
  model: string;
  /** Tokens actually debited (0 in the best-effort lane and for repeats). */
  charged: number;
  remaining: number;
  lane: Lane;
  /** Start of the next UTC hour (ISO-8601). */
  resetAt: string;
  /** Fair-share weight for the scheduler: plan tokens per hour. */
  weight: number;
  /** Tokens the frame costs at full price. */
  cost: number;
  /** Set when the same `Idempotency-Key` was seen before. */
  duplicate?: 'idempotency' | 'frame';
  /** The first request's result JSON on an idempotent repeat (null while it still runs). */
  storedResult?: string | null;
}

/** Options of {@link Admission}. */
export interface AdmissionOptions {
  ledger: AdmissionLedger;
  metrics: GatewayMetrics;
  /** Failed-auth limiter; default 20 failures per minute per address. */
  limiter?: AuthFailureLimiter;
  logger?: Logger;
  now?: () => number;
}

/** Maps a ledger failure to the product error the client sees. */
function ledgerError(err: unknown): YoloscaleError {
  if (isLedgerError(err, 'ledger_unavailable')) {
    const retry = (err as { retryAfterS?: number }).retryAfterS ?? 1;
    return new YoloscaleError(ErrorCode.ledgerUnavailable, 'the token ledger is unavailable; nothing was charged, retry shortly', {
      cause: err,
      retryAfterS: retry,
    });
  }
  if (err instanceof YoloscaleError) return err;
  // Input the ledger refused (e.g. a malformed Idempotency-Key) is the client's mistake, not an outage.
  if (isLedgerError(err, 'bad_request')) return new YoloscaleError(ErrorCode.badRequest, (err as Error).message, { cause: err });
  return new YoloscaleError(ErrorCode.ledgerUnavailable, 'the token ledger failed; nothing was charged, retry shortly', { cause: err, retryAfterS: 1 });
}

/** Authentication, debit and refund over a ledger. */
export class Admission {
  readonly #ledger: AdmissionLedger;
  readonly #metrics: GatewayMetrics;
  readonly #limiter: AuthFailureLimiter;
  readonly #log: Logger;
  readonly #now: () => number;

  constructor(opts: AdmissionOptions) {
    if (!opts?.ledger) throw new TypeError('options.ledger is required');
    if (!opts.metrics) throw new TypeError('options.metrics is required');
    this.#ledger = opts.ledger;
    this.#metrics = opts.metrics;
    this.#limiter = opts.limiter ?? new AuthFailureLimiter();
    this.#log = opts.logger ?? silentLogger;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Resolves `key` to its tenant.
   * @throws YoloscaleError `unauthorized` (401) for a missing or unknown key,
   *   `rate_limited` (429) once `ip` failed too often, `ledger_unavailable` (503).
   */
  async authenticate(key: string | undefined, ip: string): Promise<Principal> {
    const blocked = this.#limiter.blockedForS(ip);
    if (blocked > 0) {
      throw new YoloscaleError(ErrorCode.rateLimited, 'too many failed authentications from this address', { retryAfterS: blocked });
    }
    if (key === undefined) {
      this.#fail(ip);
      throw new YoloscaleError(ErrorCode.unauthorized, 'missing API key: send X-Auth-Token or Authorization: Bearer');
    }
    let principal: Principal | null;
    try {
      principal = await this.#ledger.authenticate(key);
    } catch (err) {
      throw ledgerError(err);
    }
    if (!principal) {
      this.#fail(ip);
      throw new YoloscaleError(ErrorCode.unauthorized, 'invalid API key');
    }
    return principal;
  }

  /** Current balance of the caller's tenant. */
  async balance(principal: Principal): Promise<Balance> {
    try {
      return await this.#ledger.balance(principal.tenantId);
    } catch (err) {
      throw ledgerError(err);
    }
  }

  /**
   * Whether the caller's plan allows `model` (checked again by the ledger at
   * each debit; this early check lets streams close with 4003 at once).
   */
  allows(principal: Principal, model: string): boolean {
    return principal.plan.models === null || principal.plan.models.includes(model);
  }

  /** Records an authentication failure that happened elsewhere (e.g. a bad stream ticket). */
  failedAuth(ip: string): void {
    this.#fail(ip);
  }

  /** Seconds `ip` is blocked for, 0 when not blocked. */
  blockedForS(ip: string): number {
    return this.#limiter.blockedForS(ip);
  }

  /**
   * Debits one frame of `model` at `width`×`height` (cost rule of SPEC.md §7).
   * @throws YoloscaleError `insufficient_tokens` (429 with Retry-After),
   *   `model_not_in_plan` (403), `ledger_unavailable` (503).
   */
  async admit(args: {
    principal: Principal;
    model: string;
    modelTokens: number;
    width: number;
    height: number;
    lane: 'standard' | 'realtime';
    frameId: string;
    idempotencyKey?: string;
  }): Promise<Admitted> {
    const tenantId = args.principal.tenantId;
    const cost = frameCost(args.modelTokens, args.width, args.height);
    const request: DebitRequest = { cost, model: args.model, frameId: args.frameId, lane: args.lane, now: this.#now() };
    if (args.idempotencyKey !== undefined) request.idempotencyKey = args.idempotencyKey;
    let res: DebitResult;
    try {
      res = await this.#ledger.debit(tenantId, request);
    } catch (err) {
      throw ledgerError(err);
    }
    if (!res.ok) {
      const headers = { remaining: res.remaining, resetAt: res.resetAt };
      if (res.reason === 'model_not_in_plan') {
        throw new YoloscaleError(ErrorCode.modelNotInPlan, `model ${args.model} is not in plan ${args.principal.plan.name}`, {
          details: { model: args.model, plan: args.principal.plan.name, tokens: headers },
        });
      }
      throw new YoloscaleError(ErrorCode.insufficientTokens, `not enough tokens: the frame costs ${cost}, ${res.remaining} left until ${res.resetAt}`, {
        retryAfterS: res.retryAfterS,
        details: { cost, tokens: headers },
      });
    }
    this.#metrics.charged(tenantId, args.model, res.lane, res.charged);
    const admitted: Admitted = {
      tenantId,
      frameId: res.frameId,
      model: args.model,
      charged: res.charged,
      remaining: res.remaining,
      lane: res.lane,
      resetAt: res.resetAt,
      weight: args.principal.plan.tokensPerHour,
      cost,
    };
    if (res.duplicate) admitted.duplicate = res.duplicate;
    if (res.storedResult !== undefined) admitted.storedResult = res.storedResult;
    return admitted;
  }

  /**
   * Gives back what `admitted` charged (`reason`: `failed`, `dropped`,
   * `timeout`, `undeliverable`…). Never throws: a refund that cannot reach the
   * ledger is logged and retried a few times.
   */
  async refund(admitted: Admitted, reason: string): Promise<void> {
    if (admitted.charged <= 0 || admitted.duplicate) return;
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.#ledger.refund(admitted.tenantId, admitted.frameId, reason);
        admitted.remaining = res.remaining;
        this.#metrics.refunded(admitted.tenantId, reason, res.refunded);
        return;
      } catch (err) {
        if (attempt >= 5) {
          this.#log.error({ err, tenant: admitted.tenantId, frameId: admitted.frameId, reason }, 'refund failed');
          return;
        }
        await new Promise((r) => setTimeout(r, 200 * attempt).unref());
      }
    }
  }

  /** Stores the result of an idempotent request for its repeats (best effort; logged on failure). */
  async storeResult(admitted: Admitted, idempotencyKey: string, resultJson: string): Promise<void> {
    try {
      await this.#ledger.recordIdempotentResult(admitted.tenantId, idempotencyKey, resultJson);
    } catch (err) {
      this.#log.warn({ err, tenant: admitted.tenantId }, 'could not store an idempotent result');
    }
  }

  /** Usage report of the caller's own tenant. */
  async usage(principal: Principal): Promise<UsageReport> {
    try {
      return await this.#ledger.usage(principal.tenantId);
    } catch (err) {
      throw ledgerError(err);
    }
  }

  #fail(ip: string): void {
    this.#limiter.fail(ip);
    this.#metrics.authFailures.inc();
  }
}
