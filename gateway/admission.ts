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
import type { AuthenticatedTenant, Balance, DebitRequest, DebitResult, DeliveryRecord, Ledger, UsageReport } from '../ledger/index.js';
import type { GatewayMetrics } from './metrics.js';
import { AuthFailureLimiter } from './auth.js';
import { RefundRetry } from './refund-retry.js';

/** The part of the ledger the gateway uses. */
export type AdmissionLedger = Pick<Ledger, 'authenticate' | 'balance' | 'debit' | 'refund' | 'usage' | 'recordIdempotentResult' | 'deliveries'>;

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
  /**
   * Where tenants buy tokens (a deployment setting, `YOLOSCALE_TOPUP_URL`), shown
   * in every `insufficient_tokens` refusal; `{tenant}` becomes the tenant id.
   */
  topupUrl?: string;
}

/**
 * What a tenant can do about an `insufficient_tokens` refusal: the fields the
 * 429 body and the WebSocket error message carry beside `code` and `message`.
 */
export interface SelfService {
  /** Seconds until the hourly budget comes back (start of the next UTC hour). */
  resetInS: number;
  /** When it comes back (ISO-8601). */
  resetAt: string;
  /** Where to buy tokens now, or `null` when the deployment set none. */
  topupUrl: string | null;
  /** Whether the tenant's plan serves exhausted tenants from idle capacity (`overflow: best-effort`). */
  bestEffortAvailable: boolean;
  /** One sentence saying all of the above. */
  hint: string;
}

/** The self-service fields of an `insufficient_tokens` refusal (pure). */
export function selfService(args: { tenantId: string; plan: Principal['plan']; resetInS: number; resetAt: string; topupUrl?: string }): SelfService {
  const topupUrl = args.topupUrl ? args.topupUrl.replaceAll('{tenant}', encodeURIComponent(args.tenantId)) : null;
  const bestEffortAvailable = args.plan.overflow === 'best-effort';
  const parts = [`Your hourly budget comes back at ${args.resetAt} (in ${args.resetInS} s).`];
  if (topupUrl) parts.push(`Buy tokens now at ${topupUrl}.`);
  parts.push(
    bestEffortAvailable
      ? 'Your plan serves frames from idle capacity (best-effort lane) once tokens run out.'
      : `Plan ${args.plan.name} has no best-effort lane; a plan with overflow best-effort would serve you from idle capacity.`,
  );
  return { resetInS: args.resetInS, resetAt: args.resetAt, topupUrl, bestEffortAvailable, hint: parts.join(' ') };
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
  readonly #topupUrl: string | undefined;
  readonly #owed: RefundRetry;
  readonly #refunding = new Set<Promise<void>>();

  constructor(opts: AdmissionOptions) {
    if (!opts?.ledger) throw new TypeError('options.ledger is required');
    if (!opts.metrics) throw new TypeError('options.metrics is required');
    this.#ledger = opts.ledger;
    this.#metrics = opts.metrics;
    this.#limiter = opts.limiter ?? new AuthFailureLimiter();
    this.#log = opts.logger ?? silentLogger;
    this.#now = opts.now ?? Date.now;
    if (opts.topupUrl !== undefined && (typeof opts.topupUrl !== 'string' || !/^https?:\/\//.test(opts.topupUrl))) {
      throw new TypeError('options.topupUrl must be an http(s) URL');
    }
    this.#topupUrl = opts.topupUrl;
    this.#owed = new RefundRetry({ logger: this.#log });
  }

  /**
   * Resolves `key` to its tenant.
   * @throws YoloscaleError `unauthorized` (401) for a missing or unknown key,
   *   `rate_limited` (429) once `ip` failed too often, `ledger_unavailable` (503).
   */
  async authenticate(key: string | undefined, ip: string): Promise<Principal> {
    const blocked = this.#limiter.blockedForS(ip);
    if (blocked > 0) {
      this.#metrics.refused('unknown', ErrorCode.rateLimited);
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
      throw this.#refusal('unknown', ledgerError(err));
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
      throw this.#refusal(tenantId, ledgerError(err));
    }
    if (!res.ok) {
      const headers = { remaining: res.remaining, resetAt: res.resetAt };
      if (res.reason === 'model_not_in_plan') {
        throw this.#refusal(tenantId, new YoloscaleError(ErrorCode.modelNotInPlan, `model ${args.model} is not in plan ${args.principal.plan.name}`, {
          details: { model: args.model, plan: args.principal.plan.name, tokens: headers },
        }));
      }
      const help = selfService({ tenantId, plan: args.principal.plan, resetInS: res.retryAfterS, resetAt: res.resetAt, ...(this.#topupUrl ? { topupUrl: this.#topupUrl } : {}) });
      throw this.#refusal(tenantId, new YoloscaleError(ErrorCode.insufficientTokens, `not enough tokens: the frame costs ${cost}, ${res.remaining} left until ${res.resetAt}`, {
        retryAfterS: res.retryAfterS,
        details: { cost, tokens: headers, ...help },
      }));
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
    const p = this.#refundOrOwe(admitted, reason);
    this.#refunding.add(p);
    try {
      await p;
    } finally {
      this.#refunding.delete(p);
    }
  }

  async #refundOrOwe(admitted: Admitted, reason: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#refundOnce(admitted, reason);
        return;
      } catch (err) {
        if (attempt >= 3) {
          // The ledger is down: the refund stays owed and is retried until it is back (however long that takes).
          this.#log.warn({ err, tenant: admitted.tenantId, frameId: admitted.frameId, reason }, 'ledger unreachable: refund owed until it is back');
          this.#owed.add(`${admitted.tenantId}\n${admitted.frameId}`, () => this.#refundOnce(admitted, reason));
          return;
        }
        await new Promise((r) => setTimeout(r, 200 * attempt).unref());
      }
    }
  }

  /** Refunds still owed because the ledger was unreachable. */
  get owedRefunds(): number {
    return this.#owed.size;
  }

  /**
   * At shutdown: waits for refunds under way, then tries the owed ones for up
   * to `timeoutMs`; resolves with how many are still owed.
   */
  async flushRefunds(timeoutMs: number): Promise<number> {
    await Promise.allSettled([...this.#refunding]);
    return this.#owed.flush(timeoutMs);
  }

  /** One refund; throws only while the ledger is unreachable (other failures are logged, never retried). */
  async #refundOnce(admitted: Admitted, reason: string): Promise<void> {
    try {
      const res = await this.#ledger.refund(admitted.tenantId, admitted.frameId, reason);
      admitted.remaining = res.remaining;
      this.#metrics.refunded(admitted.tenantId, reason, res.refunded);
    } catch (err) {
      // Unreachable (or failing in a way the ledger did not classify): worth another try.
      if (isLedgerError(err, 'ledger_unavailable') || !isLedgerError(err)) throw err;
      this.#log.error({ err, tenant: admitted.tenantId, frameId: admitted.frameId, reason }, 'refund failed');
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

  /** The caller's own webhook delivery log, newest first. */
  async deliveries(principal: Principal): Promise<DeliveryRecord[]> {
    try {
      return await this.#ledger.deliveries(principal.tenantId);
    } catch (err) {
      throw ledgerError(err);
    }
  }

  /** Counts a refusal in `yoloscale_refusals_total` and returns it for throwing. */
  #refusal(tenant: string, err: YoloscaleError): YoloscaleError {
    this.#metrics.refused(tenant, err.code);
    return err;
  }

  #fail(ip: string): void {
    this.#limiter.fail(ip);
    this.#metrics.authFailures.inc();
    this.#metrics.refused('unknown', ErrorCode.unauthorized);
  }
}
