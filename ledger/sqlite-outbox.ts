/**
 * The notification side of the SQLite ledger (issue #9): notification flags,
 * the per-tenant outbox, webhooks, the delivery log and refusal counters.
 * Every method is synchronous and runs inside the ledger's own `BEGIN
 * IMMEDIATE` transaction, so an event is appended atomically with the debit or
 * plan change that causes it and concurrent connections never duplicate it.
 */
import type Database from 'better-sqlite3';
import { hourIndex, hourStartIso, resetAtIso } from './clock.js';
import type { DeliveryRow, NotifyStateRow, OutboxRow, WebhookRow } from './sqlite-schema.js';
import type {
  DeliveryAttempt,
  DeliveryRecord,
  LedgerLane,
  NotificationCount,
  NotificationEvent,
  OutboxEvent,
  Plan,
  RefusalBucket,
  WebhookWithSecret,
} from './types.js';
import { DELIVERY_LOG_LIMIT, generateWebhookSecret } from './webhook.js';

/** Outbox, webhooks and notification state over one SQLite connection. */
export class SqliteOutbox {
  readonly #stmt: (sql: string) => Database.Statement;

  /** @param stmt returns the connection's prepared statement for `sql` */
  constructor(stmt: (sql: string) => Database.Statement) {
    this.#stmt = stmt;
  }


  /** A new budget period (next hour, top-up, plan change): `balance_low` and `budget_exhausted` may fire again. */
  newPeriod(tenantId: string): void {
    this.#stmt('UPDATE notify_state SET low_sent = 0, exhausted_sent = 0 WHERE tenant_id = ?').run(tenantId);
  }

  #notifyState(tenantId: string): NotifyStateRow {
    const row = this.#stmt('SELECT low_sent, exhausted_sent, best_effort FROM notify_state WHERE tenant_id = ?').get(tenantId) as NotifyStateRow | undefined;
    return row ?? { low_sent: 0, exhausted_sent: 0, best_effort: 0 };
  }

  #saveNotifyState(tenantId: string, st: NotifyStateRow): void {
    this.#stmt('INSERT OR REPLACE INTO notify_state (tenant_id, low_sent, exhausted_sent, best_effort) VALUES (?, ?, ?, ?)')
      .run(tenantId, st.low_sent, st.exhausted_sent, st.best_effort);
  }

  /** Appends an event to the tenant's outbox when its webhook asks for it (inside the caller's transaction). */
  emit(tenantId: string, type: NotificationEvent, at: number, data: Record<string, unknown>): void {
    const wh = this.#stmt('SELECT events FROM webhooks WHERE tenant_id = ?').get(tenantId) as { events: string } | undefined;
    if (!wh || !(JSON.parse(wh.events) as string[]).includes(type)) return;
    const { lastInsertRowid } = this.#stmt("INSERT INTO outbox (id, tenant_id, type, at, data, attempts, due_at) VALUES ('', ?, ?, ?, ?, 0, ?)")
      .run(tenantId, type, at, JSON.stringify(data), at);
    // Ids in order of creation, like the Redis backend's: `ev_` and 12 digits.
    this.#stmt('UPDATE outbox SET id = ? WHERE seq = ?').run(`ev_${String(lastInsertRowid).padStart(12, '0')}`, lastInsertRowid);
  }

  /**
   * The notification side of a debit that was not a repeat: best-effort lane
   * entered or left, threshold crossed, budget exhausted. Same transaction.
   */
  debitEvents(tenantId: string, o: { plan: Plan; lane: LedgerLane; charged: number; after: number; refused: boolean; now: number }): void {
    const st = this.#notifyState(tenantId);
    const wh = this.#stmt('SELECT threshold FROM webhooks WHERE tenant_id = ?').get(tenantId) as { threshold: number | null } | undefined;
    const threshold = wh?.threshold ?? null;
    const resetAt = resetAtIso(o.now);
    const before = { ...st };
    if (o.lane === 'best-effort' && !st.best_effort) {
      st.best_effort = 1;
      this.emit(tenantId, 'best_effort_entered', o.now, { plan: o.plan.name, resetAt });
    } else if (o.lane !== 'best-effort' && !o.refused && st.best_effort) {
      st.best_effort = 0;
      this.emit(tenantId, 'best_effort_left', o.now, { plan: o.plan.name });
    }
    if (threshold !== null && !st.low_sent && o.after <= threshold) {
      st.low_sent = 1;
      this.emit(tenantId, 'balance_low', o.now, { remaining: o.after, threshold, resetAt });
    }
    if (!st.exhausted_sent && (o.refused || o.lane === 'best-effort' || (o.charged > 0 && o.after === 0))) {
      st.exhausted_sent = 1;
      this.emit(tenantId, 'budget_exhausted', o.now, { remaining: o.after, resetAt, plan: o.plan.name, bestEffort: o.plan.overflow === 'best-effort' });
    }
    if (st.low_sent !== before.low_sent || st.exhausted_sent !== before.exhausted_sent || st.best_effort !== before.best_effort) this.#saveNotifyState(tenantId, st);
  }

  /** Counts a refused debit in its hour. */
  refused(tenantId: string, hour: number, reason: string): void {
    this.#stmt('INSERT INTO refusals (tenant_id, hour, reason, count) VALUES (?, ?, ?, 1) ON CONFLICT (tenant_id, hour, reason) DO UPDATE SET count = count + 1')
      .run(tenantId, hour, reason);
  }

  /** Refusals of the last 24 UTC hours, oldest first. */
  refusals(tenantId: string, now: number): RefusalBucket[] {
    const hour = hourIndex(now);
    const rows = this.#stmt('SELECT hour, reason, count FROM refusals WHERE tenant_id = ? AND hour > ? AND hour <= ? ORDER BY hour, reason')
      .all(tenantId, hour - 24, hour) as { hour: number; reason: string; count: number }[];
    return rows.map((r) => ({ hour: hourStartIso(r.hour), reason: r.reason, count: r.count }));
  }

  /** Delivery attempt counters by event type and outcome. */
  notified(tenantId: string): NotificationCount[] {
    const rows = this.#stmt('SELECT type, outcome, count FROM notified WHERE tenant_id = ? ORDER BY type, outcome').all(tenantId) as {
      type: string; outcome: string; count: number;
    }[];
    return rows.map((r) => ({ type: r.type as NotificationEvent, outcome: r.outcome as NotificationCount['outcome'], count: r.count }));
  }

  #webhookOf(row: WebhookRow): WebhookWithSecret {
    return {
      tenantId: row.tenant_id, url: row.url, events: JSON.parse(row.events) as NotificationEvent[], threshold: row.threshold,
      createdAt: new Date(row.created_at).toISOString(), secret: row.secret,
    };
  }

  #eventOf(row: OutboxRow): OutboxEvent {
    return {
      id: row.id, tenantId: row.tenant_id, type: row.type as NotificationEvent, at: new Date(row.at).toISOString(),
      data: JSON.parse(row.data) as Record<string, unknown>, attempts: row.attempts,
    };
  }

  /** Sets the webhook with a fresh secret (the tenant must exist) and starts a new notification period. */
  setWebhook(tenantId: string, w: { url: string; events: NotificationEvent[]; threshold: number | null }, now: number): WebhookWithSecret {
    this.#stmt('INSERT OR REPLACE INTO webhooks (tenant_id, url, secret, events, threshold, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(tenantId, w.url, generateWebhookSecret(), JSON.stringify(w.events), w.threshold, now);
    this.newPeriod(tenantId);
    return this.#webhookOf(this.#stmt('SELECT * FROM webhooks WHERE tenant_id = ?').get(tenantId) as WebhookRow);
  }

  /** The webhook with its secret, or `null`. */
  getWebhook(tenantId: string): WebhookWithSecret | null {
    const row = this.#stmt('SELECT * FROM webhooks WHERE tenant_id = ?').get(tenantId) as WebhookRow | undefined;
    return row ? this.#webhookOf(row) : null;
  }

  /** Removes the webhook and its pending events; false when there was none. */
  deleteWebhook(tenantId: string): boolean {
    this.#stmt('DELETE FROM outbox WHERE tenant_id = ?').run(tenantId);
    return this.#stmt('DELETE FROM webhooks WHERE tenant_id = ?').run(tenantId).changes > 0;
  }

  /** Pending events of a tenant, oldest first. */
  pending(tenantId: string): OutboxEvent[] {
    return (this.#stmt('SELECT * FROM outbox WHERE tenant_id = ? ORDER BY seq').all(tenantId) as OutboxRow[]).map((r) => this.#eventOf(r));
  }

  /** Claims up to `limit` events due at `now` and hides them for `leaseMs`. */
  claim(c: { limit: number; leaseMs: number; now: number }): OutboxEvent[] {
    const rows = this.#stmt('SELECT * FROM outbox WHERE due_at <= ? ORDER BY due_at, seq LIMIT ?').all(c.now, c.limit) as OutboxRow[];
    for (const r of rows) this.#stmt('UPDATE outbox SET due_at = ? WHERE id = ?').run(c.now + c.leaseMs, r.id);
    return rows.map((r) => this.#eventOf(r));
  }

  /** Records a delivery attempt and settles or reschedules the event (an event already settled is left alone). */
  complete(eventId: string, a: Required<Omit<DeliveryAttempt, 'error'>> & { error?: string }): void {
    const row = this.#stmt('SELECT * FROM outbox WHERE id = ?').get(eventId) as OutboxRow | undefined;
    if (!row) return; // settled by another notifier, or the webhook was removed
    const n = row.attempts + 1;
    if (a.outcome === 'retrying') this.#stmt('UPDATE outbox SET attempts = ?, due_at = ? WHERE id = ?').run(n, a.nextAttemptAt, row.id);
    else this.#stmt('DELETE FROM outbox WHERE id = ?').run(row.id);
    this.#stmt('INSERT INTO deliveries (tenant_id, event_id, type, attempt, at, outcome, status, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(row.tenant_id, row.id, row.type, n, a.now, a.outcome, a.status, a.error ?? null, a.durationMs);
    this.#stmt('DELETE FROM deliveries WHERE tenant_id = ? AND seq <= (SELECT seq FROM deliveries WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)')
      .run(row.tenant_id, row.tenant_id, DELIVERY_LOG_LIMIT);
    this.#stmt('INSERT INTO notified (tenant_id, type, outcome, count) VALUES (?, ?, ?, 1) ON CONFLICT (tenant_id, type, outcome) DO UPDATE SET count = count + 1')
      .run(row.tenant_id, row.type, a.outcome);
  }

  /** The delivery log, newest first. */
  deliveries(tenantId: string, limit: number): DeliveryRecord[] {
    const rows = this.#stmt('SELECT * FROM deliveries WHERE tenant_id = ? ORDER BY seq DESC LIMIT ?').all(tenantId, limit) as DeliveryRow[];
    return rows.map((r) => {
      const d: DeliveryRecord = {
        eventId: r.event_id, type: r.type as NotificationEvent, attempt: r.attempt, at: new Date(r.at).toISOString(),
        outcome: r.outcome as DeliveryRecord['outcome'], status: r.status, durationMs: r.duration_ms,
      };
      if (r.error !== null) d.error = r.error;
      return d;
    });
  }
}
