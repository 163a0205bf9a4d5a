import type { ProviderError } from '../types.js';

/**
 * Helpers every provider shares: idempotency per request id and the error
 * queue that `pollErrors()` drains, plus a tracker for background work so a
 * provider's `close()` can wait for it (no fire-and-forget promises).
 */

/** Remembers each request id's outcome so a repeated request does nothing new. */
export class RequestMemo<T> {
  readonly #done = new Map<string, Promise<T>>();
  readonly #limit: number;

  /** Keeps at most `limit` request ids (oldest forgotten first). */
  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  /** Runs `fn` the first time `requestId` is seen; later calls get the first call's result. */
  once(requestId: string, fn: () => Promise<T>): Promise<T> {
    const prior = this.#done.get(requestId);
    if (prior) return prior;
    const p = fn();
    this.#done.set(requestId, p);
    if (this.#done.size > this.#limit) {
      const oldest = this.#done.keys().next().value;
      if (oldest !== undefined) this.#done.delete(oldest);
    }
    return p;
  }

  /** True when `requestId` has been seen. */
  has(requestId: string): boolean {
    return this.#done.has(requestId);
  }
}

/** Errors waiting to be returned by `pollErrors()`. */
export class ErrorQueue {
  #errors: ProviderError[] = [];
  readonly #limit: number;

  constructor(limit = 1000) {
    this.#limit = limit;
  }

  push(e: Omit<ProviderError, 'atMs'> & { atMs?: number }): void {
    this.#errors.push({ ...e, atMs: e.atMs ?? Date.now() });
    if (this.#errors.length > this.#limit) this.#errors.shift();
  }

  /** Returns and forgets every queued error. */
  drain(): ProviderError[] {
    const out = this.#errors;
    this.#errors = [];
    return out;
  }
}

/** Tracks background tasks; each task's failure is handed to `onError`, never left unhandled. */
export class TaskSet {
  readonly #tasks = new Set<Promise<void>>();

  constructor(readonly onError: (err: unknown) => void) {}

  /** Starts tracking `p`. */
  add(p: Promise<unknown>): void {
    const t: Promise<void> = p.then(
      () => undefined,
      (err: unknown) => this.onError(err),
    );
    this.#tasks.add(t);
    void t.finally(() => this.#tasks.delete(t));
  }

  /** Resolves when every task started so far has settled. */
  async settle(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  get size(): number {
    return this.#tasks.size;
  }
}

/** Validates a launch request's arguments; returns a message or undefined. */
export function badLaunch(type: string, count: number, requestId: string, types?: readonly string[]): string | undefined {
  if (typeof requestId !== 'string' || requestId === '') return 'requestId must be a non-empty string';
  if (!Number.isInteger(count) || count < 1) return 'count must be a positive integer';
  if (typeof type !== 'string' || type === '') return 'type must be a non-empty string';
  if (types && !types.includes(type)) return `unknown node type "${type}" (known: ${types.join(', ')})`;
  return undefined;
}

/** Sleeps `ms` milliseconds (unref'd, so it never holds the process open). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
