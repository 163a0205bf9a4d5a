/**
 * Refunds the gateway owes while the ledger is unreachable (SPEC.md §7: "if
 * the ledger is unreachable … automatic recovery"). A frame that failed,
 * timed out or was dropped during an outage must still be refunded once the
 * ledger is back, however long the outage; the chaos suite's Redis restart
 * lost such refunds when they were given up after a few seconds.
 *
 * Each owed refund is retried on a timer with a growing interval until it
 * succeeds; refunds are idempotent in the ledger (per frame id), so a retry
 * whose first attempt did reach the ledger gives nothing back twice.
 */
import type { Logger } from '../protocol/index.js';
import { silentLogger } from '../protocol/index.js';

/** Options of {@link RefundRetry}. */
export interface RefundRetryOptions {
  /** First retry interval, ms (default 500); doubles up to `maxRetryMs`. */
  retryMs?: number;
  /** Longest retry interval, ms (default 5,000). */
  maxRetryMs?: number;
  /** Most refunds owed at once (default 100,000); beyond it new ones are logged and dropped. */
  maxOwed?: number;
  logger?: Logger;
}

/** One refund attempt: resolves when the ledger took it, throws while it is unreachable. */
export type RefundAttempt = () => Promise<void>;

/** Refunds owed to tenants, retried until the ledger takes them. */
export class RefundRetry {
  readonly #owed = new Map<string, RefundAttempt>();
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  readonly #maxOwed: number;
  readonly #log: Logger;
  #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | null = null;

  constructor(opts: RefundRetryOptions = {}) {
    for (const k of ['retryMs', 'maxRetryMs', 'maxOwed'] as const) {
      const v = opts[k];
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new TypeError(`options.${k} must be a positive integer`);
    }
    this.#retryMs = opts.retryMs ?? 500;
    this.#maxRetryMs = Math.max(this.#retryMs, opts.maxRetryMs ?? 5_000);
    this.#maxOwed = opts.maxOwed ?? 100_000;
    this.#log = opts.logger ?? silentLogger;
    this.#intervalMs = this.#retryMs;
  }

  /** Refunds owed now. */
  get size(): number {
    return this.#owed.size;
  }

  /** Owes the refund named `key` (e.g. tenant and frame id) until `attempt` succeeds. */
  add(key: string, attempt: RefundAttempt): void {
    if (this.#owed.has(key)) return;
    if (this.#owed.size >= this.#maxOwed) {
      this.#log.error({ key, owed: this.#owed.size }, 'too many refunds owed; this one is dropped');
      return;
    }
    this.#owed.set(key, attempt);
    this.#intervalMs = this.#retryMs;
    this.#arm();
  }

  /**
   * Tries every owed refund until none is left or `timeoutMs` passed (at
   * shutdown); resolves with how many are still owed (and logs them).
   */
  async flush(timeoutMs: number): Promise<number> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const until = Date.now() + timeoutMs;
    while (this.#owed.size > 0 && Date.now() < until) {
      await this.#retryAll();
      if (this.#owed.size > 0) await new Promise((r) => setTimeout(r, Math.min(this.#retryMs, Math.max(0, until - Date.now()))));
    }
    if (this.#owed.size > 0) this.#log.error({ owed: [...this.#owed.keys()] }, 'refunds still owed at shutdown: the ledger stayed unreachable');
    return this.#owed.size;
  }

  #arm(): void {
    if (this.#timer || this.#owed.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#retryAll().then(
        () => {
          this.#intervalMs = Math.min(this.#intervalMs * 2, this.#maxRetryMs);
          this.#arm();
        },
        (err: unknown) => this.#log.error({ err }, 'refund retry failed'),
      );
    }, this.#intervalMs);
    this.#timer.unref();
  }

  /** One pass over every owed refund (one pass at a time). */
  #retryAll(): Promise<void> {
    this.#running ??= (async () => {
      for (const [key, attempt] of [...this.#owed]) {
        try {
          await attempt();
          this.#owed.delete(key);
        } catch {
          return; // still unreachable: the rest wait for the next pass
        }
      }
    })().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }
}
