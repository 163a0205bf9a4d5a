// Public surface of scheduler/notify/: the webhook notifier and its signatures.
export { Notifier, retryDelayMs, webhookPayload } from './notifier.js';
export type { NotifierLedger, NotifierOptions } from './notifier.js';
export { SIGNATURE_HEADER, SIGNATURE_TOLERANCE_S, signWebhook, verifyWebhook } from './signature.js';
