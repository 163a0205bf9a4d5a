/**
 * Key extraction, per-IP limiting of auth failures and single-use stream
 * tickets. Secrets are only ever compared through their SHA-256 digests, so
 * lookups take the same time whatever prefix a guess shares with a real one.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * The API key of a request: `X-Auth-Token: KEY` or `Authorization: Bearer KEY`
 * (SPEC.md §5). Returns undefined when neither is present.
 */
export function extractKey(headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
  const token = headers['x-auth-token'];
  if (typeof token === 'string' && token.trim() !== '') return token.trim();
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  return undefined;
}

/** SHA-256 digest of a secret (hex). */
export function digest(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** Constant-time equality of two secrets (compares their digests). */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** Options of {@link AuthFailureLimiter}. */
export interface AuthFailureLimiterOptions {
  /** Failures allowed per window and address. Default 20. */
  maxFailures?: number;
  /** Window length in ms. Default 60 000. */
  windowMs?: number;
  /** Most addresses tracked at once (oldest forgotten first). Default 10 000. */
  maxTracked?: number;
  now?: () => number;
}

/**
 * Counts failed authentications per client address in a fixed window. Once an
 * address reaches the limit it is refused (429 `rate_limited`) until the
 * window ends, without even checking its key.
 */
export class AuthFailureLimiter {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #maxTracked: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, { count: number; resetAt: number }>();

  constructor(opts: AuthFailureLimiterOptions = {}) {
    const max = opts.maxFailures ?? 20;
    if (!Number.isInteger(max) || max < 1) throw new TypeError('options.maxFailures must be a positive integer');
    const windowMs = opts.windowMs ?? 60_000;
    if (!(windowMs > 0)) throw new TypeError('options.windowMs must be a positive number');
    const maxTracked = opts.maxTracked ?? 10_000;
    if (!Number.isInteger(maxTracked) || maxTracked < 1) throw new TypeError('options.maxTracked must be a positive integer');
    this.#max = max;
    this.#windowMs = windowMs;
    this.#maxTracked = maxTracked;
    this.#now = opts.now ?? Date.now;
  }

  /** Seconds until `ip` may try again, or 0 when it is not blocked. */
  blockedForS(ip: string): number {
    const e = this.#entries.get(ip);
    if (!e) return 0;
    const now = this.#now();
    if (now >= e.resetAt) {
      this.#entries.delete(ip);
      return 0;
    }
    return e.count >= this.#max ? Math.ceil((e.resetAt - now) / 1000) : 0;
  }

  /** Records one failure of `ip`. */
  fail(ip: string): void {
    const now = this.#now();
    let e = this.#entries.get(ip);
    if (!e || now >= e.resetAt) {
      this.#entries.delete(ip);
      if (this.#entries.size >= this.#maxTracked) {
        const oldest = this.#entries.keys().next().value;
        if (oldest !== undefined) this.#entries.delete(oldest);
      }
      e = { count: 0, resetAt: now + this.#windowMs };
      this.#entries.set(ip, e);
    }
    e.count++;
  }
}

/** What a ticket stands for. */
export interface TicketGrant<T> {
  /** The authenticated principal the ticket was issued to. */
  principal: T;
  /** Epoch ms after which the ticket is void. */
  expiresAt: number;
}

/** Options of {@link TicketStore}. */
export interface TicketStoreOptions {
  /** Lifetime of a ticket in ms. Default 60 000. */
  ttlMs?: number;
  /** Most live tickets (oldest evicted first). Default 100 000. */
  maxTickets?: number;
  now?: () => number;
}

/**
 * Single-use stream tickets (SPEC.md §5): a browser trades its key for a
 * random ticket over a normal request and puts only the ticket in the
 * WebSocket URL. Tickets live 60 s and can be redeemed once.
 */
export class TicketStore<T> {
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #grants = new Map<string, TicketGrant<T>>();

  constructor(opts: TicketStoreOptions = {}) {
    const ttl = opts.ttlMs ?? 60_000;
    if (!(ttl > 0)) throw new TypeError('options.ttlMs must be a positive number');
    const max = opts.maxTickets ?? 100_000;
    if (!Number.isInteger(max) || max < 1) throw new TypeError('options.maxTickets must be a positive integer');
    this.#ttlMs = ttl;
    this.#max = max;
    this.#now = opts.now ?? Date.now;
  }

  /** Issues a ticket for `principal`. */
  issue(principal: T): { ticket: string; expiresAt: number } {
    this.#sweep();
    if (this.#grants.size >= this.#max) {
      const oldest = this.#grants.keys().next().value;
      if (oldest !== undefined) this.#grants.delete(oldest);
    }
    const ticket = randomBytes(24).toString('base64url');
    const expiresAt = this.#now() + this.#ttlMs;
    this.#grants.set(digest(ticket), { principal, expiresAt });
    return { ticket, expiresAt };
  }

  /** Redeems `ticket` once: its principal, or undefined when unknown, used or expired. */
  redeem(ticket: string): T | undefined {
    const id = digest(ticket);
    const grant = this.#grants.get(id);
    if (!grant) return undefined;
    this.#grants.delete(id);
    return grant.expiresAt > this.#now() ? grant.principal : undefined;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [id, g] of this.#grants) {
      if (g.expiresAt > now) break; // insertion order = expiry order
      this.#grants.delete(id);
    }
  }
}
