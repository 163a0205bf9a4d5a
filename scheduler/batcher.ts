/**
 * Per-model micro-batcher (SPEC.md §8): frames of one model gather into an
 * open batch that closes when it holds `maxBatch` frames or its first frame
 * waited `maxDelayMs`, whichever comes first; the scheduler closes it
 * earlier, as soon as a worker has a free slot for it (so a quiet cluster
 * adds no batching delay). Frames of several tenants share a batch.
 * Pure: the caller passes the clock.
 */

/** A closed batch of one model. */
export interface Batch<T> {
  model: string;
  items: T[];
  /** Clock value (ms) when the batch's first item arrived. */
  openedAt: number;
}

/** Options of {@link MicroBatcher}. */
export interface MicroBatcherOptions {
  /** Most frames in one batch (default 16). */
  maxBatch?: number;
  /** Longest time the first frame of a batch waits for company, in ms (default 2). */
  maxDelayMs?: number;
}

/** Frozen defaults of {@link MicroBatcherOptions}. */
export const BATCHER_DEFAULTS = Object.freeze({ maxBatch: 16, maxDelayMs: 2 });

/** Checks batcher options, throwing `options.X must be …` messages. */
export function checkBatcherOptions(opts: MicroBatcherOptions): Required<MicroBatcherOptions> {
  const maxBatch = opts.maxBatch ?? BATCHER_DEFAULTS.maxBatch;
  const maxDelayMs = opts.maxDelayMs ?? BATCHER_DEFAULTS.maxDelayMs;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new TypeError('options.maxBatch must be a positive integer');
  if (typeof maxDelayMs !== 'number' || !Number.isFinite(maxDelayMs) || maxDelayMs < 0) throw new TypeError('options.maxDelayMs must be a number ≥ 0');
  return { maxBatch, maxDelayMs };
}

/** Models whose entries are kept before closed ones are dropped (see `#open`). */
const MAX_MODEL_ENTRIES = 256;

/** Open batches, one per model. */
export class MicroBatcher<T> {
  readonly maxBatch: number;
  readonly maxDelayMs: number;
  /**
   * The open batch per model, or null once taken: a model's entry stays, so
   * that opening and taking a batch per frame does not churn the Map (which
   * would keep every taken batch alive until a full GC, see
   * protocol/id-table.ts).
   */
  readonly #open = new Map<string, Batch<T> | null>();
  #size = 0;

  constructor(opts: MicroBatcherOptions = {}) {
    const o = checkBatcherOptions(opts);
    this.maxBatch = o.maxBatch;
    this.maxDelayMs = o.maxDelayMs;
  }

  /** Frames waiting in open batches. */
  get size(): number {
    return this.#size;
  }

  /** Models with an open batch, oldest batch first. */
  models(): string[] {
    const open: Batch<T>[] = [];
    for (const b of this.#open.values()) if (b) open.push(b);
    if (open.length > 1) open.sort((a, b) => a.openedAt - b.openedAt);
    return open.map((b) => b.model);
  }

  /** Frames in the open batch of a model. */
  pending(model: string): number {
    return this.#open.get(model)?.items.length ?? 0;
  }

  /** Adds a frame; returns the batch when this frame filled it (the batch is then closed). */
  add(model: string, item: T, now: number): Batch<T> | null {
    let b = this.#open.get(model);
    if (!b) {
      if (b === undefined && this.#open.size >= MAX_MODEL_ENTRIES) this.#forgetClosed();
      b = { model, items: [], openedAt: now };
      this.#open.set(model, b);
    }
    b.items.push(item);
    this.#size++;
    if (b.items.length >= this.maxBatch) return this.take(model);
    return null;
  }

  /** Closes and returns the open batch of a model, or null. */
  take(model: string): Batch<T> | null {
    const b = this.#open.get(model);
    if (!b) return null;
    this.#open.set(model, null);
    this.#size -= b.items.length;
    return b;
  }

  /** True when the open batch of a model has waited `maxDelayMs`. */
  isDue(model: string, now: number): boolean {
    const b = this.#open.get(model);
    return b ? now - b.openedAt >= this.maxDelayMs : false;
  }

  /** Closes and returns every batch that waited `maxDelayMs`. */
  takeDue(now: number): Batch<T>[] {
    const out: Batch<T>[] = [];
    for (const model of this.models()) if (this.isDue(model, now)) out.push(this.take(model) as Batch<T>);
    return out;
  }

  /** Clock value when the next open batch becomes due, or null when none is open. */
  nextDueAt(): number | null {
    let at: number | null = null;
    for (const b of this.#open.values()) {
      if (!b) continue;
      const due = b.openedAt + this.maxDelayMs;
      if (at === null || due < at) at = due;
    }
    return at;
  }

  /**
   * Puts frames back at the front of their model's open batch (a batch that
   * found no worker, or the part a worker had no slots for), keeping the
   * original opening time so they do not wait longer than they already did.
   */
  restore(batch: Batch<T>): void {
    if (batch.items.length === 0) return;
    const b = this.#open.get(batch.model);
    if (b) {
      b.items = [...batch.items, ...b.items];
      b.openedAt = Math.min(b.openedAt, batch.openedAt);
    } else this.#open.set(batch.model, { model: batch.model, items: [...batch.items], openedAt: batch.openedAt });
    this.#size += batch.items.length;
  }

  /** Removes and returns every waiting frame that matches (e.g. past its deadline). */
  removeWhere(pred: (item: T) => boolean): T[] {
    const removed: T[] = [];
    for (const [model, b] of this.#open) {
      if (!b) continue;
      const keep: T[] = [];
      for (const item of b.items) (pred(item) ? removed : keep).push(item);
      if (keep.length === 0) this.#open.set(model, null);
      else b.items = keep;
    }
    this.#size -= removed.length;
    return removed;
  }

  #forgetClosed(): void {
    for (const [model, b] of this.#open) if (!b) this.#open.delete(model);
  }
}
