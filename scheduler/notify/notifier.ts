/**
 * The notifier (issue #9): a loop in the scheduler process that claims events
 * from the ledger's outbox, POSTs each as signed JSON to its tenant's webhook,
 * retries failures with capped exponential backoff, and records every attempt
 * in the tenant's delivery log. The pure parts ({@link retryDelayMs},
 * {@link webhookPayload}) are exported for tests.
 *
 * Delivery is at least once: a receiver that answers too late is tried again,
 * so receivers drop repeats by the event `id` (the same on every attempt).
 */
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import type { DeliveryAttempt, Ledger, NotificationEvent, OutboxEvent } from '../../ledger/index.js';
import { silentLogger } from '../../protocol/index.js';
import type { Logger } from '../../protocol/index.js';
import { SIGNATURE_HEADER, signWebhook } from './signature.js';

/** The ledger calls the notifier makes. */
export type NotifierLedger = Pick<Ledger, 'claimEvents' | 'completeEvent' | 'getWebhook'>;

/** Options of {@link Notifier}; every number optional. */
export interface NotifierOptions {
  ledger: NotifierLedger;
  /** Registry for `yoloscale_notifications_total{event,outcome}`. */
  metricsRegistry?: Registry;
  logger?: Logger;
  /** Pause between outbox polls when idle. Default 1000 ms. */
  pollMs?: number;
  /** Most time a receiver has to answer. Default 5000 ms. */
  timeoutMs?: number;
  /** Attempts before an event is marked failed. Default 8. */
  maxAttempts?: number;
  /** First retry delay, doubled on each attempt. Default 1000 ms. */
  backoffBaseMs?: number;
  /** Cap of the retry delay. Default 300 000 ms (5 min). */
  backoffMaxMs?: number;
  /** Events claimed (and delivered concurrently) per poll. Default 32. */
  batchSize?: number;
  /** Clock, epoch ms. */
  now?: () => number;
}

const DEFAULTS = Object.freeze({ pollMs: 1000, timeoutMs: 5000, maxAttempts: 8, backoffBaseMs: 1000, backoffMaxMs: 300_000, batchSize: 32 });

/** Delay before attempt `attempt + 1` after `attempt` failures (1-based): `base·2^(attempt−1)`, capped. */
export function retryDelayMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, Math.min(30, attempt - 1)));
}

/** The JSON body POSTed for an event: `{id, type, tenant, at, data}`. */
export function webhookPayload(event: OutboxEvent): string {
  return JSON.stringify({ id: event.id, type: event.type, tenant: event.tenantId, at: event.at, data: event.data });
}

function describe(err: unknown): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string; message?: string }; message?: string };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timeout';
  return String(e?.cause?.code ?? e?.code ?? e?.cause?.message ?? e?.message ?? err).slice(0, 200);
}

/** Delivers outbox events to tenant webhooks. `start()` it; `stop()` before closing the ledger. */
export class Notifier {
  readonly #ledger: NotifierLedger;
  readonly #log: Logger;
  readonly #o: Readonly<Record<keyof typeof DEFAULTS, number>>;
  readonly #now: () => number;
  readonly #sent: Counter<'event' | 'outcome'> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<number> | undefined;
  #stopped = true;

  constructor(opts: NotifierOptions) {
    if (!opts?.ledger || typeof opts.ledger.claimEvents !== 'function') throw new TypeError('options.ledger must be a Ledger');
    const o: Record<keyof typeof DEFAULTS, number> = { ...DEFAULTS };
    for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
      const v = opts[key];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new TypeError(`options.${key} must be a positive integer`);
      o[key] = v;
    }
    this.#o = Object.freeze(o);
    this.#ledger = opts.ledger;
    this.#log = opts.logger ?? silentLogger;
    this.#now = opts.now ?? Date.now;
    const registry = opts.metricsRegistry;
    if (registry) {
      const existing = registry.getSingleMetric('yoloscale_notifications_total') as Counter<'event' | 'outcome'> | undefined;
      this.#sent = existing ?? new Counter({
        name: 'yoloscale_notifications_total',
        help: 'Webhook delivery attempts by event type and outcome (delivered, retrying, failed)',
        labelNames: ['event', 'outcome'],
        registers: [registry],
      });
    }
  }

  /** Starts polling the outbox. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Stops polling and waits for deliveries in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => 0);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.deliverDue().catch((err: unknown) => {
        this.#log.warn({ err }, 'notifier poll failed; retrying');
        return 0;
      });
      void this.#running.then((n) => this.#schedule(n >= this.#o.batchSize ? 0 : this.#o.pollMs));
    }, delayMs);
  }

  /**
   * One poll: claims the events due now and delivers them concurrently.
   * @returns how many events were attempted
   * @throws LedgerUnavailableError when the outbox cannot be read
   */
  async deliverDue(): Promise<number> {
    const events = await this.#ledger.claimEvents({ limit: this.#o.batchSize, leaseMs: this.#o.timeoutMs + 10_000, now: this.#now() });
    await Promise.all(events.map((e) => this.#deliver(e)));
    return events.length;
  }

  async #deliver(event: OutboxEvent): Promise<void> {
    const started = this.#now();
    const attempt = event.attempts + 1;
    let result: Omit<DeliveryAttempt, 'outcome' | 'nextAttemptAt'> & { ok: boolean; final?: boolean };
    try {
      const hook = await this.#ledger.getWebhook(event.tenantId);
      if (!hook || !hook.events.includes(event.type)) {
        result = { ok: false, final: true, status: null, error: 'webhook removed', durationMs: 0 };
      } else {
        result = await this.#post(hook.url, hook.secret, event, attempt);
      }
    } catch (err) {
      this.#log.warn({ err, event: event.id }, 'webhook lookup failed');
      return; // the lease expires and the event is claimed again
    }
    const outcome: DeliveryAttempt['outcome'] = result.ok ? 'delivered' : result.final || attempt >= this.#o.maxAttempts ? 'failed' : 'retrying';
    const record: DeliveryAttempt = { outcome, status: result.status, durationMs: result.durationMs, now: started };
    if (result.error !== undefined) record.error = result.error;
    if (outcome === 'retrying') record.nextAttemptAt = this.#now() + retryDelayMs(attempt, this.#o.backoffBaseMs, this.#o.backoffMaxMs);
    this.#sent?.inc({ event: event.type, outcome });
    if (outcome === 'failed') this.#log.warn({ tenant: event.tenantId, event: event.id, type: event.type, attempt, error: result.error }, 'webhook delivery failed');
    try {
      await this.#ledger.completeEvent(event, record);
    } catch (err) {
      this.#log.warn({ err, event: event.id }, 'could not record a webhook delivery; the event will be retried');
    }
  }

  async #post(url: string, secret: string, event: OutboxEvent, attempt: number): Promise<{ ok: boolean; status: number | null; error?: string; durationMs: number }> {
    const body = webhookPayload(event);
    const t0 = performance.now();
    const signal = AbortSignal.timeout(this.#o.timeoutMs);
    try {
      const res = await fetch(url, {
        method: 'POST',
        body,
        redirect: 'manual',
        signal,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'yoloscale-webhook/1',
          'x-yoloscale-event': event.type as NotificationEvent,
          'x-yoloscale-delivery': event.id,
          'x-yoloscale-attempt': String(attempt),
          [SIGNATURE_HEADER]: signWebhook(secret, body, Math.floor(this.#now() / 1000)),
        },
      });
      await res.arrayBuffer().catch(() => undefined);
      const durationMs = Math.round(performance.now() - t0);
      if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status, durationMs };
      return { ok: false, status: res.status, error: `HTTP ${res.status}`, durationMs };
    } catch (err) {
      return { ok: false, status: null, error: describe(err), durationMs: Math.round(performance.now() - t0) };
    }
  }
}
