// Public surface of ledger/: tenants, API keys, plans, pricing and the token ledger (SQLite and Redis).
export { API_KEY_PREFIX, generateApiKey, hashApiKey } from './api-keys.js';
export { HOUR_MS, hourIndex, resetAtIso, secondsToNextHour } from './clock.js';
export { ELASTIC_DOWN_AFTER_HOURS, decideElastic, forecastNextHour } from './elastic.js';
export type { ElasticDecision, ElasticInput } from './elastic.js';
export { applyElasticPlans } from './elastic-sweep.js';
export type { ElasticSweepResult } from './elastic-sweep.js';
export {
  LedgerConflictError,
  LedgerError,
  LedgerErrorCode,
  LedgerInputError,
  LedgerNotFoundError,
  LedgerUnavailableError,
  isLedgerError,
} from './errors.js';
export type { AuthenticatedTenant, Ledger, LedgerBackend, LedgerCommonOptions } from './ledger.js';
export { SQLITE_LEDGER_FILE, openLedger } from './open.js';
export type { OpenLedgerOptions } from './open.js';
export { DEFAULT_PLAN_NAME, DEFAULT_PLANS, PIXELS_PER_TOKEN_UNIT, frameCost } from './pricing.js';
export { RedisLedger } from './redis-ledger.js';
export type { RedisLedgerOptions } from './redis-ledger.js';
export { SqliteLedger } from './sqlite-ledger.js';
export type { SqliteLedgerOptions } from './sqlite-ledger.js';
export { DELIVERY_LOG_LIMIT, NOTIFICATION_EVENTS, checkWebhookInput, isNotificationEvent } from './webhook.js';
export type {
  ApiKeyInfo,
  AuditEntry,
  Balance,
  CreateTenantInput,
  CreatedApiKey,
  DebitDenied,
  DebitGranted,
  DebitRequest,
  DebitResult,
  DeliveryAttempt,
  DeliveryRecord,
  ElasticRange,
  ElasticState,
  LedgerLane,
  NotificationCount,
  NotificationEvent,
  OutboxEvent,
  Overflow,
  Plan,
  PlanUpdate,
  RefundResult,
  RefusalBucket,
  SetPlanOptions,
  Tenant,
  TopupOptions,
  UsageBucket,
  UsageReport,
  WebhookConfig,
  WebhookInput,
  WebhookWithSecret,
} from './types.js';
