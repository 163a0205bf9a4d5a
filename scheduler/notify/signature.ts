/**
 * Webhook signatures (issue #9), Stripe-style: the header
 * `X-Yoloscale-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`.
 * Receivers recompute the HMAC over the raw body with their secret, compare in
 * constant time and refuse timestamps too far from their clock (replays). Pure.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Name of the signature header (lower case, as Node exposes it). */
export const SIGNATURE_HEADER = 'x-yoloscale-signature';

/** Default tolerance between the signed timestamp and the receiver's clock (5 min). */
export const SIGNATURE_TOLERANCE_S = 300;

function hmacHex(secret: string, timestampS: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestampS}.${body}`, 'utf8').digest('hex');
}

/** The signature header value for `body` signed at `timestampS` (unix seconds). */
export function signWebhook(secret: string, body: string, timestampS: number): string {
  if (typeof secret !== 'string' || secret.length === 0) throw new TypeError('secret must be a non-empty string');
  if (!Number.isSafeInteger(timestampS) || timestampS < 0) throw new TypeError('timestampS must be unix seconds');
  return `t=${timestampS},v1=${hmacHex(secret, timestampS, body)}`;
}

/**
 * True when `header` is a valid signature of `body` under `secret`, made
 * within `toleranceS` of `nowS`. Any `v1` entry may match (secret rotation).
 */
export function verifyWebhook(
  secret: string,
  body: string,
  header: string | undefined,
  options: { nowS?: number; toleranceS?: number } = {},
): boolean {
  if (typeof header !== 'string' || header.length > 2000) return false;
  let t: number | undefined;
  const sigs: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't' && /^\d{1,12}$/.test(v)) t = Number(v);
    else if (k === 'v1' && /^[0-9a-f]{64}$/.test(v)) sigs.push(v);
  }
  if (t === undefined || sigs.length === 0) return false;
  const nowS = options.nowS ?? Math.floor(Date.now() / 1000);
  if (Math.abs(nowS - t) > (options.toleranceS ?? SIGNATURE_TOLERANCE_S)) return false;
  const expected = Buffer.from(hmacHex(secret, t, body), 'hex');
  return sigs.some((s) => timingSafeEqual(Buffer.from(s, 'hex'), expected));
}
