/**
 * API key material: 32 random bytes, shown once; only SHA-256 hashes are
 * stored and compared (in constant time).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** Prefix of every plaintext key. */
export const API_KEY_PREFIX = 'ys_';

/** A fresh plaintext key (`ys_` + 43 base64url characters, 256 bits of entropy). */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** Hex SHA-256 of a plaintext key: the only form the ledger stores. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex hashes. */
export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** The part of a key shown in listings (never enough to use it). */
export function keyDisplayPrefix(key: string): string {
  return key.slice(0, API_KEY_PREFIX.length + 6);
}

/** A random id with a readable prefix, e.g. `t_3f9a…`. */
export function randomId(prefix: string): string {
  return prefix + randomBytes(9).toString('base64url').replace(/[-_]/g, 'x');
}
