/**
 * Tenant webhooks (issue #9): the event names, the check of a webhook's
 * settings, its signing secret and the payload of each outbox event. Pure
 * (the secret comes from `crypto.randomBytes`); both backends use it.
 */
import { randomBytes } from 'node:crypto';
import { LedgerInputError } from './errors.js';
import type { NotificationEvent, WebhookInput } from './types.js';

/** Every notification event, in the order they are documented. */
export const NOTIFICATION_EVENTS: readonly NotificationEvent[] = Object.freeze([
  'balance_low',
  'budget_exhausted',
  'plan_changed',
  'best_effort_entered',
  'best_effort_left',
]);

/** Attempts kept per tenant in the delivery log (older ones are dropped). */
export const DELIVERY_LOG_LIMIT = 100;

/** Hosts a webhook may reach over plain `http://` (local receivers, tests). */
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** A fresh signing secret: `whsec_` + 32 random bytes in base64url. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** True when `v` names a notification event. */
export function isNotificationEvent(v: unknown): v is NotificationEvent {
  return typeof v === 'string' && (NOTIFICATION_EVENTS as readonly string[]).includes(v);
}

/**
 * Checks a webhook's settings: an `https://` URL (plain `http://` only for
 * localhost), known events without repeats (default: all), a non-negative
 * integer threshold or `null`, required when `balance_low` is asked for by name.
 */
export function checkWebhookInput(input: WebhookInput): { url: string; events: NotificationEvent[]; threshold: number | null } {
  if (typeof input !== 'object' || input === null) throw new LedgerInputError('webhook must be an object {url, events?, threshold?}');
  let url: URL;
  try {
    url = new URL(String(input.url));
  } catch {
    throw new LedgerInputError('webhook.url must be an absolute https:// URL');
  }
  if (typeof input.url !== 'string' || input.url.length > 2000) throw new LedgerInputError('webhook.url must be at most 2000 characters');
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname))) {
    throw new LedgerInputError('webhook.url must be https:// (plain http:// is allowed for localhost only)');
  }
  if (url.username || url.password) throw new LedgerInputError('webhook.url must not carry credentials');
  let events: NotificationEvent[];
  if (input.events === undefined) events = [...NOTIFICATION_EVENTS];
  else {
    if (!Array.isArray(input.events) || input.events.length === 0) throw new LedgerInputError(`webhook.events must be a non-empty list of: ${NOTIFICATION_EVENTS.join(', ')}`);
    for (const e of input.events) {
      if (!isNotificationEvent(e)) throw new LedgerInputError(`webhook.events: unknown event "${String(e)}" (known: ${NOTIFICATION_EVENTS.join(', ')})`);
    }
    events = NOTIFICATION_EVENTS.filter((e) => input.events!.includes(e));
  }
  const threshold = input.threshold ?? null;
  if (threshold !== null && (typeof threshold !== 'number' || !Number.isSafeInteger(threshold) || threshold < 0)) {
    throw new LedgerInputError('webhook.threshold must be a non-negative integer (tokens) or null');
  }
  if (threshold === null && input.events !== undefined && events.includes('balance_low')) {
    throw new LedgerInputError('webhook.threshold is required for the balance_low event');
  }
  return { url: url.toString(), events, threshold };
}
