/**
 * The gateway's side of the cluster: a DEALER connected to the scheduler's
 * client ROUTER (`:5556`). Structurally it is the gateway's
 * `DetectionBackend` (`submit`, `ready`, `models`).
 */
import type { DetectionResult, DetectParams, Lane } from './detection.js';
import { ErrorCode, YoloscaleError } from './errors.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import { MessageKind } from './messages.js';
import type { Message, ModelInfo, SubmitFrameHeader } from './messages.js';
import { IdTable } from './id-table.js';
import { DealerSocket } from './zmq.js';
import type { CurveClientOptions } from './zmq.js';
import type { DropReason } from './codec.js';

/** Options of {@link SchedulerClient}. */
export interface SchedulerClientOptions {
  /** Scheduler client endpoint, e.g. `tcp://127.0.0.1:5556`. */
  endpoint: string;
  logger?: Logger;
  /** How often the client asks the scheduler for its status, in ms (default 1,000). */
  pingIntervalMs?: number;
  /** The scheduler counts as disconnected when no status arrived for this long, in ms (default 3,000). */
  staleAfterMs?: number;
  /**
   * How long after a frame's deadline the client gives up waiting for the
   * scheduler's own `deadline_exceeded` answer and rejects locally, in ms
   * (default 500). Covers a scheduler that died with the frame.
   */
  graceMs?: number;
  /** Most frames waiting to be sent (default 50,000): beyond it `submit` rejects with `overloaded`. */
  sendQueueLimit?: number;
  /** Called for every refused incoming message (metrics). */
  onDrop?: (reason: DropReason) => void;
  /** CURVE client keys: the scheduler's public key, and optionally this gateway's keypair (SPEC.md §13; default: plain TCP). */
  curve?: CurveClientOptions;
}

/** One frame to detect. */
export interface SubmitFrame {
  /** Encoded image bytes (JPEG, PNG or WebP); the worker decodes them. */
  image: Uint8Array;
  /** Catalog model id. */
  model: string;
  params: DetectParams;
  /** Tenant the frame is charged to. */
  tenant: string;
  /** Fair-share weight: the tenant's plan tokens per hour. */
  weight: number;
  /** Tokens the frame costs (0 in the best-effort lane). */
  cost: number;
  lane: Lane;
  /** Absolute deadline, epoch milliseconds. */
  deadlineMs: number;
  /** Caller's unique frame id (logs, refunds). */
  frameId: string;
}

/** Readiness for `/readyz`. */
export interface SchedulerReadiness {
  /** True while the scheduler answers status pings. */
  scheduler: boolean;
  /** Worker nodes in state `ready`. */
  workers: number;
}

interface Pending {
  resolve: (r: DetectionResult) => void;
  reject: (e: YoloscaleError) => void;
  /** Local give-up time, epoch ms (deadline + grace). */
  giveUpAt: number;
  startedAt: number;
  /** Kept until the frame is answered: the scheduler asks for it again (`resend`) if the worker running it is lost. */
  image: Uint8Array;
}

const LANES: ReadonlySet<string> = new Set(['realtime', 'standard', 'best-effort']);
const MAX_FRAMES_PER_MESSAGE = 64;

/**
 * Submits frames to the scheduler and resolves each with its
 * {@link DetectionResult}, or rejects with a {@link YoloscaleError}
 * (`deadline_exceeded`, `no_capacity`, `overloaded`, `bad_image`,
 * `unknown_model`, `bad_request`, `internal`).
 *
 * ```ts
 * const client = new SchedulerClient({ endpoint: 'tcp://127.0.0.1:5556', logger });
 * client.connect();
 * const result = await client.submit({ image, model: 'yolox-nano', params: {}, tenant: 't1',
 *   weight: 3600, cost: 1, lane: 'standard', deadlineMs: Date.now() + 10_000, frameId: 'f1' });
 * client.ready(); // { scheduler: true, workers: 2 }
 * await client.close();
 * ```
 *
 * Invariants: every `submit` promise settles, at the latest `graceMs` after
 * its deadline; `close()` rejects what is still pending with `no_capacity`.
 * Each frame's image is held until the frame settles: the scheduler lets go
 * of images once they are on a worker and asks for them again (`resend`)
 * when it re-queues frames of a lost worker.
 * ZeroMQ reconnects by itself when the scheduler restarts.
 */
export class SchedulerClient {
  readonly #socket: DealerSocket;
  readonly #endpoint: string;
  readonly #logger: Logger;
  readonly #pingMs: number;
  readonly #staleMs: number;
  readonly #graceMs: number;
  /** By seq; an IdTable, not a Map, so that answered frames (and their images) die young (see id-table.ts). */
  readonly #pending = new IdTable<Pending>();
  #seq = 0;
  #lastStatusAt = 0;
  #workers = 0;
  #models: ModelInfo[] = [];
  #timer: NodeJS.Timeout | undefined;
  #connected = false;
  #closed = false;
  #readyWaiters: Array<() => void> = [];
  #outHeaders: SubmitFrameHeader[] = [];
  #outImages: Uint8Array[] = [];
  #outPending: Array<{ seq: number; pending: Pending }> = [];
  #flushQueued = false;

  constructor(opts: SchedulerClientOptions) {
    if (!opts || typeof opts.endpoint !== 'string' || !/^tcp:\/\/.+:\d+$/.test(opts.endpoint)) throw new TypeError('options.endpoint must look like tcp://HOST:PORT');
    for (const k of ['pingIntervalMs', 'staleAfterMs', 'graceMs'] as const) {
      const v = opts[k];
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) throw new TypeError(`options.${k} must be a positive number`);
    }
    this.#endpoint = opts.endpoint;
    this.#logger = opts.logger ?? silentLogger;
    this.#pingMs = opts.pingIntervalMs ?? 1_000;
    this.#staleMs = opts.staleAfterMs ?? 3_000;
    this.#graceMs = opts.graceMs ?? 500;
    this.#socket = new DealerSocket({ name: 'scheduler-client', logger: this.#logger, sendQueueLimit: opts.sendQueueLimit, onDrop: opts.onDrop, curve: opts.curve });
    this.#socket.onMessage((m) => this.#onMessage(m));
  }

  /** Connects (idempotent; does not wait for the scheduler) and starts pinging for status. */
  connect(): void {
    if (this.#connected || this.#closed) return;
    this.#connected = true;
    this.#socket.connect(this.#endpoint);
    this.#socket.send({ kind: MessageKind.ping });
    this.#timer = setInterval(() => this.#tick(), Math.min(this.#pingMs, 250));
    this.#timer.unref();
    this.#logger.info({ endpoint: this.#endpoint }, 'scheduler client connecting');
  }

  /** Resolves when the scheduler answered and at least one worker is ready; rejects after `timeoutMs`. */
  waitReady(timeoutMs = 10_000): Promise<void> {
    if (this.ready().scheduler && this.#workers > 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new YoloscaleError(ErrorCode.noCapacity, `scheduler at ${this.#endpoint} not ready after ${timeoutMs} ms`)), timeoutMs);
      this.#readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Scheduler connection and ready workers, for `/readyz`. */
  ready(): SchedulerReadiness {
    const scheduler = this.#lastStatusAt > 0 && Date.now() - this.#lastStatusAt <= this.#staleMs;
    return { scheduler, workers: scheduler ? this.#workers : 0 };
  }

  /** Models offered by ready workers, as of the last status. */
  models(): readonly ModelInfo[] {
    return this.#models;
  }

  /** Frames submitted and not yet settled. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Sends one frame; settles with its result or a typed error (see class doc). */
  submit(frame: SubmitFrame): Promise<DetectionResult> {
    const bad = checkFrame(frame);
    if (bad) return Promise.reject(new YoloscaleError(ErrorCode.badRequest, bad));
    if (this.#closed || !this.#connected) return Promise.reject(new YoloscaleError(ErrorCode.noCapacity, 'scheduler client is not connected', { retryAfterS: 1 }));
    const now = Date.now();
    const budgetMs = frame.deadlineMs - now;
    if (budgetMs <= 0) return Promise.reject(new YoloscaleError(ErrorCode.deadlineExceeded, 'deadline passed before the frame was sent'));
    const seq = ++this.#seq;
    // Frames submitted in the same tick travel in one message (see SubmitMessage).
    this.#outHeaders.push({
      seq,
      frameId: frame.frameId,
      model: frame.model,
      params: frame.params ?? {},
      tenant: frame.tenant,
      weight: frame.weight,
      cost: frame.cost,
      lane: frame.lane,
      budgetMs,
    });
    this.#outImages.push(frame.image);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flush());
    }
    return new Promise((resolve, reject) => {
      const pending = { resolve, reject, giveUpAt: frame.deadlineMs + this.#graceMs, startedAt: now, image: frame.image };
      this.#pending.set(seq, pending);
      this.#outPending.push({ seq, pending });
    });
  }

  #flush(): void {
    this.#flushQueued = false;
    const headers = this.#outHeaders;
    const images = this.#outImages;
    const pendings = this.#outPending;
    this.#outHeaders = [];
    this.#outImages = [];
    this.#outPending = [];
    for (let i = 0; i < headers.length; i += MAX_FRAMES_PER_MESSAGE) {
      const sent = this.#closed ? false : this.#socket.send({ kind: MessageKind.submit, frames: headers.slice(i, i + MAX_FRAMES_PER_MESSAGE) }, images.slice(i, i + MAX_FRAMES_PER_MESSAGE));
      if (sent) continue;
      for (const { seq, pending } of pendings.slice(i, i + MAX_FRAMES_PER_MESSAGE)) {
        if (!this.#pending.delete(seq)) continue;
        pending.reject(new YoloscaleError(ErrorCode.overloaded, 'scheduler send queue is full', { retryAfterS: 1 }));
      }
    }
  }

  /** Stops pinging, rejects pending frames with `no_capacity` and closes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const p of this.#pending.values()) p.reject(new YoloscaleError(ErrorCode.noCapacity, 'scheduler client closed', { retryAfterS: 1 }));
    this.#pending.clear();
    await this.#socket.close();
  }

  #tick(): void {
    const now = Date.now();
    if (now - this.#lastPingAt >= this.#pingMs) {
      this.#lastPingAt = now;
      this.#socket.send({ kind: MessageKind.ping });
    }
    for (const [seq, p] of this.#pending.entries()) {
      if (now > p.giveUpAt) {
        this.#pending.delete(seq);
        p.reject(new YoloscaleError(ErrorCode.deadlineExceeded, 'no answer from the scheduler before the deadline'));
      }
    }
  }

  #lastPingAt = 0;

  #onMessage(m: Message): void {
    switch (m.kind) {
      case MessageKind.reply: {
        const now = Date.now();
        for (const o of m.outcomes) {
          const p = this.#pending.get(o.seq);
          if (!p) continue;
          this.#pending.delete(o.seq);
          if (o.result) {
            o.result.timing.totalMs = now - p.startedAt;
            p.resolve(o.result);
          } else if (o.error) {
            p.reject(new YoloscaleError(o.error.code, o.error.message, o.error.retryAfterS === undefined ? {} : { retryAfterS: o.error.retryAfterS }));
          }
        }
        return;
      }
      case MessageKind.status: {
        const wasReady = this.ready().scheduler;
        this.#lastStatusAt = Date.now();
        this.#workers = m.readyNodes;
        this.#models = m.models;
        if (!wasReady) this.#logger.info({ workers: m.readyNodes }, 'scheduler connected');
        if (m.readyNodes > 0) for (const w of this.#readyWaiters.splice(0)) w();
        return;
      }
      case MessageKind.resend: {
        const ids: number[] = [];
        const images: Uint8Array[] = [];
        const missing: number[] = [];
        for (const f of m.frames) {
          const p = this.#pending.get(f.seq);
          if (p) {
            ids.push(f.id);
            images.push(p.image);
          } else missing.push(f.id);
        }
        if (ids.length === 0 && missing.length === 0) return;
        // `missing` travels in the first message; the images in as many as they need.
        for (let i = 0; i === 0 || i < ids.length; i += MAX_FRAMES_PER_MESSAGE) {
          this.#socket.send({ kind: MessageKind.resent, ids: ids.slice(i, i + MAX_FRAMES_PER_MESSAGE), missing: i === 0 ? missing : [] }, images.slice(i, i + MAX_FRAMES_PER_MESSAGE));
        }
        this.#logger.debug({ resent: ids.length, missing: missing.length }, 'scheduler asked for images again (a worker was lost)');
        return;
      }
      default:
        this.#logger.debug({ kind: m.kind }, 'unexpected message kind from scheduler; dropped');
    }
  }
}

function checkFrame(f: SubmitFrame): string | null {
  if (!f || typeof f !== 'object') return 'frame must be an object';
  if (!(f.image instanceof Uint8Array) || f.image.byteLength === 0) return 'frame.image must be non-empty bytes';
  if (typeof f.model !== 'string' || f.model === '') return 'frame.model must be a non-empty string';
  if (typeof f.tenant !== 'string') return 'frame.tenant must be a string';
  if (typeof f.frameId !== 'string') return 'frame.frameId must be a string';
  if (typeof f.weight !== 'number' || !(f.weight > 0)) return 'frame.weight must be a positive number';
  if (typeof f.cost !== 'number' || !(f.cost >= 0)) return 'frame.cost must be a number ≥ 0';
  if (!LANES.has(f.lane)) return 'frame.lane must be realtime, standard or best-effort';
  if (typeof f.deadlineMs !== 'number' || !Number.isFinite(f.deadlineMs)) return 'frame.deadlineMs must be epoch milliseconds';
  return null;
}
