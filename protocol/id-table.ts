/**
 * A table of entries keyed by the integer ids a process hands out in
 * sequence (frame, batch and submit sequence numbers), for the per-frame
 * paths that add and remove an entry for every frame.
 *
 * Why not a `Map`: V8 reallocates a Map's hash table as entries come and go
 * (a delete that empties it, a `clear`, an insert that finds it full of
 * deleted slots), and the obsolete table keeps a pointer to its successor
 * and the entries it held. Once one table of a long-lived Map is in the old
 * generation, every later table is reachable from it until the next full
 * mark-compact: each one, and every frame, result and image it points to,
 * survives the scavenges and is promoted. Measured in the scheduler core
 * at 1,000 frames/s (Nov 2026): about 140 KB promoted per scavenge, a
 * mark-compact every second, and images (external memory) freed only then.
 *
 * Here the slots are two plain arrays indexed by `id % capacity`; adding
 * and removing allocate nothing. Live ids normally span a window (those
 * sent and not yet answered), so a capacity larger than the window never
 * collides; a collision doubles the capacity, up to `maxCapacity`, past
 * which the newcomer goes to an overflow `Map` (a frame stuck far behind
 * the others). Ids must be non-negative safe integers.
 */
export class IdTable<T> {
  #ids: number[];
  #values: Array<T | undefined>;
  #size = 0;
  readonly #maxCapacity: number;
  readonly #overflow = new Map<number, T>();

  constructor(opts: { initialCapacity?: number; maxCapacity?: number } = {}) {
    const initial = opts.initialCapacity ?? 64;
    const max = opts.maxCapacity ?? 1 << 16;
    for (const [name, v] of [['initialCapacity', initial], ['maxCapacity', max]] as const) {
      if (!Number.isInteger(v) || v < 1 || v > 2 ** 24) throw new TypeError(`options.${name} must be an integer from 1 to 2^24`);
    }
    if (max < initial) throw new TypeError('options.maxCapacity must be at least options.initialCapacity');
    this.#maxCapacity = max;
    this.#ids = new Array<number>(initial).fill(-1);
    this.#values = new Array<T | undefined>(initial).fill(undefined);
  }

  /** Entries held. */
  get size(): number {
    return this.#size + this.#overflow.size;
  }

  /** Slots in the array part (grows on collisions, never shrinks). */
  get capacity(): number {
    return this.#ids.length;
  }

  get(id: number): T | undefined {
    const i = id % this.#ids.length;
    if (this.#ids[i] === id) return this.#values[i];
    return this.#overflow.size > 0 ? this.#overflow.get(id) : undefined;
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** Adds or replaces the entry of `id`; `value` must not be undefined. */
  set(id: number, value: T): void {
    if (!Number.isSafeInteger(id) || id < 0) throw new TypeError(`id must be a non-negative safe integer, got ${String(id)}`);
    if (value === undefined) throw new TypeError('value must not be undefined');
    for (;;) {
      const i = id % this.#ids.length;
      const at = this.#ids[i];
      if (at === id) {
        this.#values[i] = value;
        return;
      }
      if (at === -1) {
        if (this.#overflow.size > 0) this.#overflow.delete(id);
        this.#ids[i] = id;
        this.#values[i] = value;
        this.#size++;
        return;
      }
      if (this.#ids.length * 2 > this.#maxCapacity) {
        this.#overflow.set(id, value);
        return;
      }
      this.#grow();
    }
  }

  /** Removes the entry of `id`; false when there was none. */
  delete(id: number): boolean {
    const i = id % this.#ids.length;
    if (this.#ids[i] === id) {
      this.#ids[i] = -1;
      this.#values[i] = undefined;
      this.#size--;
      return true;
    }
    return this.#overflow.size > 0 && this.#overflow.delete(id);
  }

  /** Removes every entry (the capacity stays). */
  clear(): void {
    this.#ids.fill(-1);
    this.#values.fill(undefined);
    this.#size = 0;
    this.#overflow.clear();
  }

  /** Every `[id, value]`, in no particular order; entries may be deleted while iterating. */
  *entries(): IterableIterator<[number, T]> {
    const ids = this.#ids;
    const values = this.#values;
    for (let i = 0; i < ids.length; i++) {
      const v = values[i];
      // A slot is free exactly when its value is undefined (set refuses undefined values).
      if (v !== undefined) yield [ids[i], v];
    }
    if (this.#overflow.size > 0) yield* [...this.#overflow];
  }

  /** Every value, in no particular order. */
  *values(): IterableIterator<T> {
    for (const [, v] of this.entries()) yield v;
  }

  #grow(): void {
    const ids = this.#ids;
    const values = this.#values;
    const n = ids.length * 2;
    this.#ids = new Array<number>(n).fill(-1);
    this.#values = new Array<T | undefined>(n).fill(undefined);
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === -1) continue;
      // Ids apart at capacity c stay apart at 2c (equal mod 2c implies equal mod c); only the newcomer may collide again.
      const j = ids[i] % n;
      this.#ids[j] = ids[i];
      this.#values[j] = values[i];
    }
  }
}
