/**
 * Typed errors of the ledger. The ledger imports nothing internal, so it keeps
 * its own small error family; the codes are the product's stable codes
 * (SPEC.md §5) as plain strings, and `httpStatus` is what an HTTP edge answers.
 * Callers branch on `code` or class, never on message text.
 */

/** Stable codes a ledger operation can fail with. */
export const LedgerErrorCode = Object.freeze({
  ledgerUnavailable: 'ledger_unavailable',
  notFound: 'not_found',
  badRequest: 'bad_request',
  conflict: 'conflict',
  internal: 'internal',
} as const);

/** Union of {@link LedgerErrorCode} values. */
export type LedgerErrorCode = (typeof LedgerErrorCode)[keyof typeof LedgerErrorCode];

const STATUS: Readonly<Record<LedgerErrorCode, number>> = Object.freeze({
  ledger_unavailable: 503,
  not_found: 404,
  bad_request: 400,
  conflict: 409,
  internal: 500,
});

/** Base class of every error the ledger throws. */
export class LedgerError extends Error {
  /** Stable machine-readable code. */
  readonly code: LedgerErrorCode;
  /** HTTP status an edge answers for this error. */
  readonly httpStatus: number;

  constructor(code: LedgerErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LedgerError';
    this.code = code;
    this.httpStatus = STATUS[code];
  }
}

/**
 * The ledger store cannot be reached (Redis down, SQLite file unusable).
 * Thrown quickly rather than hanging; nothing was charged by the failed call
 * (an uncertain Redis debit is refunded automatically when the store returns).
 */
export class LedgerUnavailableError extends LedgerError {
  /** Seconds a client should wait before retrying. */
  readonly retryAfterS: number;

  constructor(message: string, options: { cause?: unknown; retryAfterS?: number } = {}) {
    super(LedgerErrorCode.ledgerUnavailable, message, options);
    this.name = 'LedgerUnavailableError';
    this.retryAfterS = options.retryAfterS ?? 1;
  }
}

/** A tenant, plan or key named in a call does not exist. */
export class LedgerNotFoundError extends LedgerError {
  constructor(message: string) {
    super(LedgerErrorCode.notFound, message);
    this.name = 'LedgerNotFoundError';
  }
}

/** Arguments of a ledger call are invalid (message names the field). */
export class LedgerInputError extends LedgerError {
  constructor(message: string) {
    super(LedgerErrorCode.badRequest, message);
    this.name = 'LedgerInputError';
  }
}

/** The call conflicts with stored state (for example a tenant id already taken). */
export class LedgerConflictError extends LedgerError {
  constructor(message: string) {
    super(LedgerErrorCode.conflict, message);
    this.name = 'LedgerConflictError';
  }
}

/** True when `err` is a {@link LedgerError} (with one of `codes`, when given). */
export function isLedgerError(err: unknown, ...codes: LedgerErrorCode[]): err is LedgerError {
  return err instanceof LedgerError && (codes.length === 0 || codes.includes(err.code));
}
