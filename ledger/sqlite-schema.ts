/**
 * Schema and row shapes of the SQLite ledger (see sqlite-ledger.ts).
 */
import type { Plan } from './types.js';

/** Tables of the SQLite ledger (created if missing). */
export const SCHEMA = `
CREATE TABLE IF NOT EXISTS plans (
  name TEXT PRIMARY KEY, tokens_per_hour INTEGER NOT NULL, models TEXT, overflow TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tenants (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, plan TEXT NOT NULL, created_at INTEGER NOT NULL,
  topup INTEGER NOT NULL DEFAULT 0, hour INTEGER NOT NULL DEFAULT 0, used INTEGER NOT NULL DEFAULT 0,
  elastic_min TEXT, elastic_max TEXT, below_hours INTEGER NOT NULL DEFAULT 0, evaluated_hour INTEGER);
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL,
  created_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS api_keys_tenant ON api_keys (tenant_id);
CREATE TABLE IF NOT EXISTS charges (
  tenant_id TEXT NOT NULL, frame_id TEXT NOT NULL, charged INTEGER NOT NULL, from_hourly INTEGER NOT NULL,
  from_topup INTEGER NOT NULL, hour INTEGER NOT NULL, model TEXT NOT NULL, lane TEXT NOT NULL,
  idem_key TEXT, refunded INTEGER NOT NULL DEFAULT 0, refund_reason TEXT, at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, frame_id));
CREATE INDEX IF NOT EXISTS charges_at ON charges (tenant_id, at);
CREATE TABLE IF NOT EXISTS idempotency (
  tenant_id TEXT NOT NULL, key TEXT NOT NULL, frame_id TEXT NOT NULL, lane TEXT NOT NULL, result TEXT,
  at INTEGER NOT NULL, PRIMARY KEY (tenant_id, key));
CREATE TABLE IF NOT EXISTS usage (
  tenant_id TEXT NOT NULL, hour INTEGER NOT NULL, model TEXT NOT NULL, tokens INTEGER NOT NULL DEFAULT 0,
  refunded INTEGER NOT NULL DEFAULT 0, frames INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (tenant_id, hour, model));
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, at INTEGER NOT NULL, kind TEXT NOT NULL,
  from_plan TEXT, to_plan TEXT, tokens INTEGER, actor TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_tenant ON audit (tenant_id, seq);
CREATE TABLE IF NOT EXISTS refusals (
  tenant_id TEXT NOT NULL, hour INTEGER NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, hour, reason));
CREATE TABLE IF NOT EXISTS webhooks (
  tenant_id TEXT PRIMARY KEY, url TEXT NOT NULL, secret TEXT NOT NULL, events TEXT NOT NULL, threshold INTEGER,
  created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS notify_state (
  tenant_id TEXT PRIMARY KEY, low_sent INTEGER NOT NULL DEFAULT 0, exhausted_sent INTEGER NOT NULL DEFAULT 0,
  best_effort INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, tenant_id TEXT NOT NULL, type TEXT NOT NULL, at INTEGER NOT NULL, data TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, due_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (due_at, seq);
CREATE INDEX IF NOT EXISTS outbox_tenant ON outbox (tenant_id, seq);
CREATE TABLE IF NOT EXISTS deliveries (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, tenant_id TEXT NOT NULL, event_id TEXT NOT NULL, type TEXT NOT NULL,
  attempt INTEGER NOT NULL, at INTEGER NOT NULL, outcome TEXT NOT NULL, status INTEGER, error TEXT,
  duration_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS deliveries_tenant ON deliveries (tenant_id, seq);
CREATE TABLE IF NOT EXISTS notified (
  tenant_id TEXT NOT NULL, type TEXT NOT NULL, outcome TEXT NOT NULL, count INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, type, outcome));
`;

/** A row of the SQLite ledger. */
export interface PlanRow { name: string; tokens_per_hour: number; models: string | null; overflow: string }
/** A row of the SQLite ledger. */
export interface TenantRow {
  id: string; name: string; plan: string; created_at: number; topup: number; hour: number; used: number;
  elastic_min: string | null; elastic_max: string | null; below_hours: number; evaluated_hour: number | null;
}
/** A row of the SQLite ledger. */
export interface ChargeRow {
  charged: number; from_hourly: number; from_topup: number; hour: number; model: string; lane: string;
  idem_key: string | null; refunded: number;
}
/** A row of the SQLite ledger. */
export interface IdemRow { frame_id: string; lane: string; result: string | null; at: number }
/** A row of the SQLite ledger. */
export interface AuditRow { tenant_id: string; at: number; kind: string; from_plan: string | null; to_plan: string | null; tokens: number | null; actor: string }
/** A row of the SQLite ledger. */
export interface UsageRow { hour: number; model: string; tokens: number; refunded: number; frames: number }

/** A row of the SQLite ledger. */
export interface WebhookRow { tenant_id: string; url: string; secret: string; events: string; threshold: number | null; created_at: number }
/** A row of the SQLite ledger. */
export interface OutboxRow { id: string; tenant_id: string; type: string; at: number; data: string; attempts: number; due_at: number }
/** A row of the SQLite ledger. */
export interface DeliveryRow {
  event_id: string; type: string; attempt: number; at: number; outcome: string; status: number | null; error: string | null; duration_ms: number;
}
/** A row of the SQLite ledger. */
export interface NotifyStateRow { low_sent: number; exhausted_sent: number; best_effort: number }

/** SQLite codes that mean the store is (temporarily) unusable rather than a bug. */
export const UNAVAILABLE_CODES = new Set(['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_CANTOPEN', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_READONLY']);

/** A plan from its row. */
export function planFromRow(r: PlanRow): Plan {
  return {
    name: r.name,
    tokensPerHour: r.tokens_per_hour,
    models: r.models === null ? null : (JSON.parse(r.models) as string[]),
    overflow: r.overflow === 'best-effort' ? 'best-effort' : 'reject',
  };
}
