/**
 * Typed errors with a stable `code` (STYLE.md "Errors"). Callers branch on
 * `code` or class, never on message text. `httpStatus` is what the gateway
 * answers; `retryAfterS` fills `Retry-After` where set.
 */

/** Every stable error code the product exposes. */
export const ErrorCode = Object.freeze({
  badImage: 'bad_image',
  badRequest: 'bad_request',
  unauthorized: 'unauthorized',
  forbidden: 'forbidden',
  modelNotInPlan: 'model_not_in_plan',
  tooLarge: 'too_large',
  unsupportedMediaType: 'unsupported_media_type',
  insufficientTokens: 'insufficient_tokens',
  overloaded: 'overloaded',
  noCapacity: 'no_capacity',
  ledgerUnavailable: 'ledger_unavailable',
  deadlineExceeded: 'deadline_exceeded',
  unknownModel: 'unknown_model',
  modelMissing: 'model_missing',
  notFound: 'not_found',
  conflict: 'conflict',
  rateLimited: 'rate_limited',
  internal: 'internal',
} as const);

/** Union of the codes above. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  bad_image: 400,
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  model_not_in_plan: 403,
  too_large: 413,
  unsupported_media_type: 415,
  insufficient_tokens: 429,
  overloaded: 503,
  no_capacity: 503,
  ledger_unavailable: 503,
  deadline_exceeded: 504,
  unknown_model: 400,
  model_missing: 503,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  internal: 500,
});

/** Options of {@link YoloscaleError}. */
export interface YoloscaleErrorOptions {
  cause?: unknown;
  /** Seconds a client should wait before retrying (429/503). */
  retryAfterS?: number;
  /** Extra machine-readable fields for the JSON error body. */
  details?: Record<string, unknown>;
}

/** Base error of the product: stable code, HTTP status, optional retry hint. */
export class YoloscaleError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number;
  readonly retryAfterS: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, opts: YoloscaleErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'YoloscaleError';
    this.code = code;
    this.httpStatus = STATUS[code];
    this.retryAfterS = opts.retryAfterS;
    this.details = opts.details;
  }

  /** JSON body of SPEC.md §5: `{"error":{"code","message",...}}`. */
  toJSON(): { error: Record<string, unknown> } {
    const error: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.retryAfterS !== undefined) error.retryAfterS = this.retryAfterS;
    if (this.details) Object.assign(error, this.details);
    return { error };
  }
}

/** True when `err` is a {@link YoloscaleError} with one of `codes` (any code when none given). */
export function isYoloscaleError(err: unknown, ...codes: ErrorCode[]): err is YoloscaleError {
  return err instanceof YoloscaleError && (codes.length === 0 || codes.includes(err.code));
}

/** Wraps anything thrown into a {@link YoloscaleError} (unknown errors become `internal`). */
export function toYoloscaleError(err: unknown): YoloscaleError {
  if (err instanceof YoloscaleError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new YoloscaleError(ErrorCode.internal, message, { cause: err });
}
