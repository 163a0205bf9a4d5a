/**
 * Chooses the ledger backend (SPEC.md §2): Redis when a URL is given, else the
 * embedded SQLite file `ledger.sqlite` in the data directory.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { LedgerInputError, LedgerUnavailableError } from './errors.js';
import type { Ledger } from './ledger.js';
import { RedisLedger } from './redis-ledger.js';
import { SqliteLedger } from './sqlite-ledger.js';

/** File name of the SQLite ledger inside the data directory. */
export const SQLITE_LEDGER_FILE = 'ledger.sqlite';

/** Options of {@link openLedger}. */
export interface OpenLedgerOptions {
  /** `YOLOSCALE_REDIS_URL`; unset or empty selects SQLite. */
  redisUrl?: string;
  /** `YOLOSCALE_DATA_DIR`; holds the SQLite file (created if missing). */
  dataDir: string;
  /** Clock in epoch ms (tests); default `Date.now`. */
  now?: () => number;
  /** Redis key prefix; default `ys:`. */
  keyPrefix?: string;
}

/**
 * Opens the ledger the settings select.
 * @throws LedgerInputError for bad options; LedgerUnavailableError when the store cannot be reached
 */
export async function openLedger(options: OpenLedgerOptions): Promise<Ledger> {
  if (typeof options !== 'object' || options === null) throw new LedgerInputError('options must be an object');
  if (options.redisUrl !== undefined && options.redisUrl !== '') {
    return RedisLedger.open({ url: options.redisUrl, now: options.now, keyPrefix: options.keyPrefix });
  }
  if (typeof options.dataDir !== 'string' || options.dataDir.length === 0) throw new LedgerInputError('options.dataDir must be a non-empty string');
  try {
    mkdirSync(options.dataDir, { recursive: true });
  } catch (err) {
    throw new LedgerUnavailableError(`cannot create data directory ${options.dataDir}: ${(err as Error).message}`, { cause: err });
  }
  return SqliteLedger.open({ path: join(options.dataDir, SQLITE_LEDGER_FILE), now: options.now });
}
