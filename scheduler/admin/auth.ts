/**
 * Bearer-token check of the admin API (SPEC.md §6, §13): constant-time
 * comparison of digests (so neither content nor length leaks through
 * timing), and a per-address limit on failed attempts.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** True when `presented` equals `expected`, compared in constant time. */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token of an `Authorization: Bearer TOKEN` header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : null;
}

/**
 * Counts failed attempts per client address in fixed one-minute windows.
 * Pure apart from the clock the caller passes.
 */
export class AuthFailureLimiter {
  readonly #limit: number;
  readonly #windows = new Map<string, { start: number; count: number }>();

  constructor(perMinute: number) {
    if (!Number.isInteger(perMinute) || perMinute < 1) throw new TypeError('options.authFailuresPerMinute must be a positive integer');
    this.#limit = perMinute;
  }

  /** Seconds until `addr` may try again, or 0 when it is not blocked. */
  blockedForS(addr: string, nowMs: number): number {
    const w = this.#windows.get(addr);
    if (!w || nowMs - w.start >= 60_000) return 0;
    return w.count >= this.#limit ? Math.ceil((w.start + 60_000 - nowMs) / 1000) : 0;
  }

  /** Records a failed attempt. */
  fail(addr: string, nowMs: number): void {
    const w = this.#windows.get(addr);
    if (!w || nowMs - w.start >= 60_000) {
      if (this.#windows.size > 10_000) this.#windows.clear();
      this.#windows.set(addr, { start: nowMs, count: 1 });
    } else w.count++;
  }
}
