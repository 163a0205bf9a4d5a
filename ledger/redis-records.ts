/**
 * How the Redis ledger's records read and write: plan JSON, tenant hashes,
 * usage counters and audit entries. Pure: no I/O.
 */
import { hourIndex, hourStartIso, resetAtIso } from './clock.js';
import type {
  AuditEntry,
  Balance,
  DeliveryRecord,
  NotificationCount,
  NotificationEvent,
  OutboxEvent,
  Plan,
  RefusalBucket,
  Tenant,
  UsageBucket,
  WebhookWithSecret,
} from './types.js';

/** A plan from its stored JSON. */
export function parsePlan(name: string, json: string): Plan {
  const p = JSON.parse(json) as Partial<Plan>;
  return {
    name,
    tokensPerHour: Number(p.tokensPerHour),
    models: Array.isArray(p.models) ? p.models.map(String) : null,
    overflow: p.overflow === 'best-effort' ? 'best-effort' : 'reject',
  };
}

/** The stored JSON of a plan (read by the Lua scripts: `tokensPerHour`, `models`, `overflow`). */
export function planJson(p: Plan): string {
  return JSON.stringify({ tokensPerHour: p.tokensPerHour, models: p.models, overflow: p.overflow });
}

/** Balances from a tenant hash at `now`. */
export function balanceFromHash(h: Record<string, string>, plan: Plan, now: number): Balance {
  const used = Number(h.hour) === hourIndex(now) ? Number(h.used ?? 0) : 0;
  const topup = Number(h.topup ?? 0);
  const hourlyRemaining = Math.max(0, plan.tokensPerHour - used);
  return {
    plan: plan.name, tokensPerHour: plan.tokensPerHour, usedThisHour: used, hourlyRemaining, topupBalance: topup,
    remaining: hourlyRemaining + topup, resetAt: resetAtIso(now),
  };
}

/** A tenant from its hash at `now`. */
export function tenantFromHash(h: Record<string, string>, plan: Plan, now: number): Tenant {
  return {
    id: h.id,
    name: h.name,
    plan: h.plan,
    createdAt: new Date(Number(h.createdAt)).toISOString(),
    elastic: h.emin && h.emax
      ? { minPlan: h.emin, maxPlan: h.emax, belowHours: Number(h.below ?? 0), evaluatedHour: h.evalHour ? hourStartIso(Number(h.evalHour)) : null }
      : null,
    balance: balanceFromHash(h, plan, now),
  };
}

/** Usage buckets of the 24 hours up to `now` from the usage hash (`hour|model|metric` fields). */
export function usageFromHash(hash: Record<string, string>, now: number): UsageBucket[] {
  const hour = hourIndex(now);
  const buckets = new Map<string, UsageBucket & { h: number }>();
  for (const [field, value] of Object.entries(hash)) {
    const first = field.indexOf('|');
    const last = field.lastIndexOf('|');
    if (first < 0 || last <= first) continue;
    const h = Number(field.slice(0, first));
    if (!(h > hour - 24 && h <= hour)) continue;
    const model = field.slice(first + 1, last);
    const metric = field.slice(last + 1);
    const id = `${h}|${model}`;
    let b = buckets.get(id);
    if (!b) {
      b = { h, hour: hourStartIso(h), model, tokens: 0, refunded: 0, frames: 0 };
      buckets.set(id, b);
    }
    if (metric === 'tokens' || metric === 'refunded' || metric === 'frames') b[metric] = Number(value);
  }
  return [...buckets.values()]
    .sort((a, b) => a.h - b.h || (a.model < b.model ? -1 : a.model > b.model ? 1 : 0))
    .map(({ hour: hh, model, tokens, refunded, frames }) => ({ hour: hh, model, tokens, refunded, frames }));
}

/** An audit entry from its stored JSON. */
export function auditFromJson(json: string, tenantId: string): AuditEntry {
  const r = JSON.parse(json) as { at: number; kind: string; fromPlan?: string; toPlan?: string; tokens?: number; actor: string };
  const e: AuditEntry = { at: new Date(r.at).toISOString(), tenantId, kind: r.kind === 'topup' ? 'topup' : 'plan', actor: r.actor };
  if (r.fromPlan !== undefined) e.fromPlan = r.fromPlan;
  if (r.toPlan !== undefined) e.toPlan = r.toPlan;
  if (r.tokens !== undefined) e.tokens = r.tokens;
  return e;
}

/** Refusal buckets of the 24 hours up to `now` from the refusals hash (`hour|reason` fields). */
export function refusalsFromHash(hash: Record<string, string>, now: number): RefusalBucket[] {
  const hour = hourIndex(now);
  const out: (RefusalBucket & { h: number })[] = [];
  for (const [field, value] of Object.entries(hash)) {
    const sep = field.indexOf('|');
    const h = Number(field.slice(0, sep));
    if (sep < 0 || !(h > hour - 24 && h <= hour)) continue;
    out.push({ h, hour: hourStartIso(h), reason: field.slice(sep + 1), count: Number(value) });
  }
  return out
    .sort((a, b) => a.h - b.h || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0))
    .map(({ hour: hr, reason, count }) => ({ hour: hr, reason, count }));
}

/** Delivery counters from the notified hash (`type|outcome` fields), sorted like the SQLite backend. */
export function notifiedFromHash(hash: Record<string, string>): NotificationCount[] {
  return Object.entries(hash)
    .map(([field, value]) => {
      const [type, outcome] = field.split('|');
      return { type: type as NotificationEvent, outcome: outcome as NotificationCount['outcome'], count: Number(value) };
    })
    .sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : a.outcome < b.outcome ? -1 : a.outcome > b.outcome ? 1 : 0));
}

/** An outbox event from its stored JSON (times in ms there, ISO here). */
export function eventFromJson(json: string): OutboxEvent {
  const r = JSON.parse(json) as { id: string; tenantId: string; type: NotificationEvent; at: number; data: Record<string, unknown>; attempts: number };
  return { id: r.id, tenantId: r.tenantId, type: r.type, at: new Date(r.at).toISOString(), data: r.data ?? {}, attempts: Number(r.attempts) || 0 };
}

/** A delivery log entry from its stored JSON. */
export function deliveryFromJson(json: string): DeliveryRecord {
  const r = JSON.parse(json) as { eventId: string; type: NotificationEvent; attempt: number; at: number; outcome: DeliveryRecord['outcome']; status?: number; error?: string; durationMs: number };
  const d: DeliveryRecord = {
    eventId: r.eventId, type: r.type, attempt: r.attempt, at: new Date(r.at).toISOString(), outcome: r.outcome, status: r.status ?? null, durationMs: r.durationMs,
  };
  if (r.error !== undefined) d.error = r.error;
  return d;
}

/** A webhook from its hash, or `null` when the hash is empty. */
export function webhookFromHash(tenantId: string, h: Record<string, string>): WebhookWithSecret | null {
  if (!h.url) return null;
  return {
    tenantId,
    url: h.url,
    events: (h.events ?? '').split(',').filter(Boolean) as NotificationEvent[],
    threshold: h.threshold === undefined || h.threshold === '' ? null : Number(h.threshold),
    createdAt: new Date(Number(h.createdAt)).toISOString(),
    secret: h.secret,
  };
}
