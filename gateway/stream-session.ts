/**
 * Latest-frame-wins bookkeeping of one WebSocket stream (SPEC.md §5), with no
 * I/O of its own: the route gives it a sink (the socket) and a `runFrame`
 * function (admission, charging and the backend).
 *
 * Invariants:
 * - at most two frames of a stream are in the system: one running, one queued;
 *   a newer frame replaces the queued one, which is reported `dropped/replaced`
 *   (it was never sent, so never charged);
 * - every frame number gets exactly one outgoing message (detections, dropped
 *   or error), and messages leave in frame order;
 * - nothing is buffered for a client that does not read: while the socket's
 *   `bufferedAmount` is over the bound, new frames are dropped `stale` before
 *   they are charged, and finished results are refunded instead of queued.
 */
import { IdTable } from '../protocol/index.js';

/** Where a session writes (a `ws` WebSocket satisfies it). */
export interface StreamSink {
  /** Bytes queued in user space, not yet handed to the kernel. */
  readonly bufferedAmount: number;
  /**
   * Queues `data`; `cb` (when given) gets an error if it was not written
   * (e.g. the socket is already closing: `ws` then drops the data silently).
   */
  send(data: string, cb?: (err?: Error) => void): void;
  close(code: number, reason: string): void;
}

/** A frame waiting in, or taken from, the session. */
export interface StreamFrame {
  /** 1-based number of the binary message on this stream. */
  frame: number;
  bytes: Uint8Array;
  /** When it arrived, epoch ms. */
  receivedAt: number;
}

/** What running one frame produced. */
export type FrameOutcome =
  | {
      kind: 'detections';
      /** The result message body (the route adds `tokens`). */
      result: Record<string, unknown>;
      /** Gives the frame's tokens back when the result cannot be delivered. */
      refund(reason: string): Promise<void>;
    }
  | { kind: 'dropped'; reason: 'stale' | 'replaced' }
  | { kind: 'error'; code: string; message: string; retryAfterS?: number; details?: Record<string, unknown> }
  /**
   * The stream must end: the error is sent (with `details`, e.g. the self-service
   * fields of `insufficient_tokens`), then the socket closes with `closeCode`.
   */
  | { kind: 'close'; code: string; message: string; closeCode: number; retryAfterS?: number; details?: Record<string, unknown> };

/** Counters a session keeps (for tests and logs). */
export interface StreamSessionStats {
  received: number;
  sent: number;
  delivered: number;
  dropped: number;
  errors: number;
  /** Results refunded because the client was not reading. */
  undeliverable: number;
  /** Largest `bufferedAmount` seen before a send. */
  maxBufferedAmount: number;
}

/** Options of {@link StreamSession}. */
export interface StreamSessionOptions {
  sink: StreamSink;
  /** Admits, charges and runs one frame; must not throw. */
  runFrame(frame: StreamFrame): Promise<FrameOutcome>;
  /** Above this many buffered bytes the session drops instead of sending. Default 256 KiB. */
  maxBufferedBytes?: number;
  /** A queued frame older than this when its turn comes is dropped `stale`. Default 1000 ms. */
  staleAfterMs?: number;
  /** Most outgoing messages waiting for an earlier frame; beyond it the stream is closed (1008). Default 1024. */
  maxPendingMessages?: number;
  /** Clock, epoch ms. */
  now?: () => number;
  /** Called once when the session has nothing running and is closed. */
  onIdle?: () => void;
}

type Outgoing = { body: Record<string, unknown>; outcome: FrameOutcome };

/** One stream's frame slotting, ordering and backpressure. */
export class StreamSession {
  readonly #sink: StreamSink;
  readonly #runFrame: (frame: StreamFrame) => Promise<FrameOutcome>;
  readonly #maxBuffered: number;
  readonly #staleAfterMs: number;
  readonly #maxPending: number;
  readonly #now: () => number;
  readonly #onIdle: (() => void) | undefined;
  #counter = 0;
  #running: StreamFrame | null = null;
  #queued: StreamFrame | null = null;
  #nextToEmit = 1;
  /** Answers waiting for their turn, by frame number (an IdTable: see protocol/id-table.ts). */
  readonly #outbox = new IdTable<Outgoing>({ initialCapacity: 16 });
  #closed = false;
  readonly #stats: StreamSessionStats = { received: 0, sent: 0, delivered: 0, dropped: 0, errors: 0, undeliverable: 0, maxBufferedAmount: 0 };

  constructor(opts: StreamSessionOptions) {
    if (!opts || typeof opts.runFrame !== 'function') throw new TypeError('options.runFrame must be a function');
    if (!opts.sink) throw new TypeError('options.sink is required');
    const maxBuffered = opts.maxBufferedBytes ?? 256 * 1024;
    if (!Number.isInteger(maxBuffered) || maxBuffered < 0) throw new TypeError('options.maxBufferedBytes must be a non-negative integer');
    const stale = opts.staleAfterMs ?? 1000;
    if (!(stale > 0)) throw new TypeError('options.staleAfterMs must be a positive number');
    const maxPending = opts.maxPendingMessages ?? 1024;
    if (!Number.isInteger(maxPending) || maxPending < 1) throw new TypeError('options.maxPendingMessages must be a positive integer');
    this.#sink = opts.sink;
    this.#runFrame = opts.runFrame;
    this.#maxBuffered = maxBuffered;
    this.#staleAfterMs = stale;
    this.#maxPending = maxPending;
    this.#now = opts.now ?? Date.now;
    this.#onIdle = opts.onIdle;
  }

  /** A snapshot of the counters. */
  get stats(): Readonly<StreamSessionStats> {
    return { ...this.#stats };
  }

  /** Frames in the system now (running + queued), never above 2. */
  get inSystem(): number {
    return (this.#running ? 1 : 0) + (this.#queued ? 1 : 0);
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Accepts one encoded frame from the client; returns its frame number. */
  push(bytes: Uint8Array): number {
    const frame: StreamFrame = { frame: ++this.#counter, bytes, receivedAt: this.#now() };
    this.#stats.received++;
    if (this.#closed) return frame.frame;
    if (this.#running === null) {
      this.#start(frame);
    } else {
      if (this.#queued) this.#finish(this.#queued.frame, { kind: 'dropped', reason: 'replaced' });
      this.#queued = frame;
    }
    return frame.frame;
  }

  /**
   * Sends a message outside the frame sequence (config acknowledgements,
   * errors about text messages) unless the client is not reading.
   */
  notice(body: Record<string, unknown>): void {
    if (this.#closed || this.#sink.bufferedAmount > this.#maxBuffered) return;
    try {
      this.#sink.send(JSON.stringify(body));
    } catch {
      // The socket went away; the close handler cleans up.
    }
  }

  /**
   * Stops taking frames. The queued frame is forgotten (never charged); the
   * running one is refunded when it finishes since nobody will read it.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queued = null;
    if (this.#running === null) this.#onIdle?.();
  }

  #start(frame: StreamFrame): void {
    if (this.#now() - frame.receivedAt > this.#staleAfterMs || this.#sink.bufferedAmount > this.#maxBuffered) {
      // Too old, or the client is not reading: drop before charging anything.
      this.#finish(frame.frame, { kind: 'dropped', reason: 'stale' });
      return;
    }
    this.#running = frame;
    this.#stats.sent++;
    this.#runFrame(frame)
      .catch((err: unknown): FrameOutcome => ({ kind: 'error', code: 'internal', message: err instanceof Error ? err.message : String(err) }))
      .then((outcome) => {
        this.#running = null;
        this.#finish(frame.frame, outcome);
        if (this.#closed) {
          this.#onIdle?.();
          return;
        }
        const next = this.#queued;
        this.#queued = null;
        if (next) this.#start(next);
      })
      .catch(() => {
        // #finish never throws; this keeps the chain from floating.
      });
  }

  #finish(n: number, outcome: FrameOutcome): void {
    const body: Record<string, unknown> =
      outcome.kind === 'detections'
        ? { type: 'detections', frame: n, ...outcome.result }
        : outcome.kind === 'dropped'
          ? { type: 'dropped', frame: n, reason: outcome.reason }
          : {
              ...outcome.details,
              type: 'error',
              frame: n,
              code: outcome.code,
              message: outcome.message,
              ...(outcome.retryAfterS !== undefined ? { retryAfterS: outcome.retryAfterS } : {}),
            };
    this.#outbox.set(n, { body, outcome });
    if (this.#outbox.size > this.#maxPending && !this.#closed) {
      this.#closeSink(1008, 'too many frames waiting');
    }
    while (this.#outbox.has(this.#nextToEmit)) {
      const out = this.#outbox.get(this.#nextToEmit)!;
      this.#outbox.delete(this.#nextToEmit);
      this.#nextToEmit++;
      this.#deliver(out);
    }
  }

  #deliver({ body, outcome }: Outgoing): void {
    if (outcome.kind === 'dropped') this.#stats.dropped++;
    else if (outcome.kind === 'error' || outcome.kind === 'close') this.#stats.errors++;
    const buffered = this.#sink.bufferedAmount;
    if (buffered > this.#stats.maxBufferedAmount) this.#stats.maxBufferedAmount = buffered;
    const cannotSend = this.#closed || buffered > this.#maxBuffered;
    if (outcome.kind === 'detections') {
      if (cannotSend) {
        this.#stats.undeliverable++;
        outcome.refund('undeliverable').catch(() => {});
        return;
      }
      this.#stats.delivered++;
    }
    if (cannotSend && outcome.kind !== 'close') return;
    // A result the socket did not take (closing, or the write failed) never reached the client: refund it.
    const undelivered = () => {
      if (outcome.kind !== 'detections') return;
      this.#stats.delivered--;
      this.#stats.undeliverable++;
      outcome.refund('undeliverable').catch(() => {});
    };
    try {
      if (!this.#closed) {
        this.#sink.send(JSON.stringify(body), (err) => {
          if (err) undelivered();
        });
      }
    } catch {
      // The socket went away between checks; the close handler cleans up.
      undelivered();
    }
    if (outcome.kind === 'close') this.#closeSink(outcome.closeCode, outcome.code);
  }

  #closeSink(code: number, reason: string): void {
    try {
      this.#sink.close(code, reason);
    } catch {
      // already closed
    }
    this.close();
  }
}
