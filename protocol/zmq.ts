/**
 * The one module importing `zeromq` (STYLE.md "Native modules behind one
 * adapter each"). Each socket has one owner object with ONE receive loop and
 * ONE bounded send queue drained by one send at a time (zeromq.js v6 allows
 * one send in flight per socket). Receive handlers are synchronous: they
 * enqueue replies and never await a send, so two peers exchanging large
 * frames can never block each other into a deadlock.
 *
 * Optional CURVE (SPEC.md §13): a ROUTER given a secret key is a CURVE
 * server; a DEALER given the server's public key is a CURVE client (with its
 * own keypair, or a fresh one). Peers without the right keys never complete
 * the handshake, so no message of theirs ever reaches a handler.
 *
 * Garbage collection: every received frame over 128 bytes is an external
 * buffer (zero copy) that zeromq.js reports to V8 twice (itself, and through
 * the ArrayBuffer it wraps). That count only falls when a collection frees
 * the buffer, and a process that receives images faster than its JavaScript
 * heap fills goes a long time between scavenges, so the count climbs past
 * V8's 64 MB external limit and starts a full mark-compact: several a second
 * at cluster rates. `scavengeEveryBytes` runs a scavenge after that many
 * received bytes instead, so images that died young are uncounted before the
 * limit is reached. The scheduler's gateway socket and the worker agent's
 * socket use it (`scavengeEveryMb`, default 8: young-gc.ts); the V8 flags
 * that make the remaining major collections cheaper on small machines are in
 * v8-flags.ts.
 */
import * as zmq from 'zeromq';
import { decodeMessage, encodeMessage } from './codec.js';
import { collectYoung } from './young-gc.js';
import type { Decoded, DropReason } from './codec.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import type { Message } from './messages.js';

/** Socket type of a {@link FramePipe}. */
export type PipeType = 'router' | 'dealer';

/** Options of {@link FramePipe}. */
export interface FramePipeOptions {
  type: PipeType;
  /** Name used in log lines. */
  name?: string;
  logger?: Logger;
  /** Most multipart messages waiting in the send queue; sends beyond it are refused (default 50,000). */
  sendQueueLimit?: number;
  /** ZeroMQ high-water marks in messages (default 100,000 both ways). */
  highWaterMark?: number;
  /** Routing id of a dealer (1–255 bytes; default: assigned by the router). */
  routingId?: string;
  /** CURVE security: server keys for a router, client keys for a dealer (default: none, plain TCP). */
  curve?: CurveServerOptions | CurveClientOptions;
  /** Called with every received multipart message, synchronously, from the one receive loop. */
  onFrames: (frames: Buffer[]) => void;
  /** Runs a young-generation collection after this many received bytes (frames over 128 bytes; default: never). See the module comment. */
  scavengeEveryBytes?: number;
}

/** CURVE keys of a server socket (the scheduler's ROUTERs). Keys are 40-character Z85 strings. */
export interface CurveServerOptions {
  /** The server's secret key; its public key is what clients are given. */
  secretKey: string;
}

/** CURVE keys of a client socket (a worker's or gateway's DEALER). Keys are 40-character Z85 strings. */
export interface CurveClientOptions {
  /** The server's public key: only a server holding the matching secret key is accepted. */
  serverKey: string;
  /** This client's keypair (default: a fresh one per socket). Give both or neither. */
  publicKey?: string;
  secretKey?: string;
}

/** A CURVE keypair as 40-character Z85 strings. */
export interface CurveKeyPair {
  publicKey: string;
  secretKey: string;
}

const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

/** True when `key` looks like a CURVE key (40 characters of the Z85 alphabet). */
export function isCurveKey(key: unknown): key is string {
  return typeof key === 'string' && Z85_KEY.test(key);
}

/** A fresh CURVE keypair (for `yoloscale keys curve`). */
export function curveKeyPair(): CurveKeyPair {
  const { publicKey, secretKey } = zmq.curveKeyPair();
  return { publicKey, secretKey };
}

function checkCurve(curve: unknown, type: PipeType): void {
  if (curve === undefined) return;
  if (curve === null || typeof curve !== 'object') throw new TypeError('options.curve must be an object');
  const c = curve as Record<string, unknown>;
  const key = (name: string, required: boolean) => {
    if (c[name] === undefined && !required) return;
    if (!isCurveKey(c[name])) throw new TypeError(`options.curve.${name} must be a 40-character Z85 CURVE key`);
  };
  if (type === 'router') {
    if (c.serverKey !== undefined) throw new TypeError('options.curve.serverKey is for a dealer; a router takes secretKey');
    key('secretKey', true);
    return;
  }
  key('serverKey', true);
  key('publicKey', false);
  key('secretKey', false);
  if ((c.publicKey === undefined) !== (c.secretKey === undefined)) throw new TypeError('options.curve.publicKey and options.curve.secretKey go together');
}

function curveSocketOptions(curve: CurveServerOptions | CurveClientOptions | undefined): Record<string, unknown> {
  if (!curve) return {};
  if (!('serverKey' in curve)) return { curveServer: true, curveSecretKey: curve.secretKey };
  const own = curve.publicKey && curve.secretKey ? { publicKey: curve.publicKey, secretKey: curve.secretKey } : curveKeyPair();
  return { curveServerKey: curve.serverKey, curvePublicKey: own.publicKey, curveSecretKey: own.secretKey };
}


/** Counters of a socket owner. */
export interface PipeStats {
  received: number;
  sent: number;
  /** Sends refused because the queue was full. */
  queueFull: number;
  /** Sends that failed in ZeroMQ (unroutable peer, closed socket, timeout). */
  sendFailed: number;
  /** Receive handler threw (caught and logged). */
  handlerErrors: number;
}

const DEFAULT_QUEUE_LIMIT = 50_000;
const DEFAULT_HWM = 100_000;

function positiveInt(v: unknown, name: string): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1)) throw new TypeError(`options.${name} must be a positive integer`);
}

/** Pipes of this thread whose sockets are open (see {@link closeAllSockets}). */
const openPipes = new Set<FramePipe>();

/**
 * Closes every ZeroMQ socket this thread still has open, at once (no
 * linger, queued messages dropped); returns how many. For a worker thread
 * that is about to exit after a fatal error: a thread that exits with a
 * zeromq.js socket open aborts the whole process (SIGABRT from a native
 * `Napi::Error`), where one that closed its sockets first exits cleanly.
 */
export function closeAllSockets(): number {
  const pipes = [...openPipes];
  for (const p of pipes) p.closeNow();
  return pipes.length;
}

/**
 * Raw owner of one ZeroMQ ROUTER or DEALER socket: one receive loop
 * delivering multipart messages as `Buffer[]` (a router's first frame is the
 * peer identity), one bounded FIFO send queue. Used by the typed
 * {@link RouterSocket}/{@link DealerSocket}, and directly by benchmarks and
 * tests that need bare frames.
 */
export class FramePipe {
  readonly #socket: zmq.Router | zmq.Dealer;
  readonly #name: string;
  readonly #logger: Logger;
  readonly #limit: number;
  readonly #onFrames: (frames: Buffer[]) => void;
  readonly #scavengeEvery: number;
  #receivedBytes = 0;
  #queue: Buffer[][] = [];
  #head = 0;
  #pumping = false;
  #closed = false;
  #flushWaiters: Array<() => void> = [];
  #loop: Promise<void> | undefined;
  readonly #stats: PipeStats = { received: 0, sent: 0, queueFull: 0, sendFailed: 0, handlerErrors: 0 };

  constructor(opts: FramePipeOptions) {
    if (opts.type !== 'router' && opts.type !== 'dealer') throw new TypeError('options.type must be "router" or "dealer"');
    if (typeof opts.onFrames !== 'function') throw new TypeError('options.onFrames must be a function');
    positiveInt(opts.sendQueueLimit, 'sendQueueLimit');
    positiveInt(opts.highWaterMark, 'highWaterMark');
    positiveInt(opts.scavengeEveryBytes, 'scavengeEveryBytes');
    checkCurve(opts.curve, opts.type);
    const hwm = opts.highWaterMark ?? DEFAULT_HWM;
    this.#name = opts.name ?? opts.type;
    this.#logger = opts.logger ?? silentLogger;
    this.#limit = opts.sendQueueLimit ?? DEFAULT_QUEUE_LIMIT;
    this.#onFrames = opts.onFrames;
    this.#scavengeEvery = opts.scavengeEveryBytes ?? Infinity;
    const common = {
      sendHighWaterMark: hwm,
      receiveHighWaterMark: hwm,
      linger: 0,
      sendTimeout: 5_000,
      sendBufferSize: 4 << 20,
      receiveBufferSize: 4 << 20,
      ...curveSocketOptions(opts.curve),
    };
    this.#socket =
      opts.type === 'router'
        ? new zmq.Router({ ...common, mandatory: true })
        : new zmq.Dealer({ ...common, ...(opts.routingId ? { routingId: opts.routingId } : {}) });
    openPipes.add(this);
  }

  /** Counters since creation (a copy). */
  get stats(): PipeStats {
    return { ...this.#stats };
  }

  /** Messages waiting in the send queue. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Binds (`tcp://HOST:PORT`, port 0 or `*` picks a free one) and starts the receive loop; resolves with the bound endpoint. */
  async bind(endpoint: string): Promise<string> {
    const ep = endpoint.replace(/:0$/, ':*');
    await this.#socket.bind(ep);
    this.#startLoop();
    return this.#socket.lastEndpoint ?? endpoint;
  }

  /** Connects (`tcp://HOST:PORT`) and starts the receive loop. ZeroMQ reconnects by itself when the peer restarts. */
  connect(endpoint: string): void {
    this.#socket.connect(endpoint);
    this.#startLoop();
  }

  /**
   * Enqueues one multipart message. Returns false (and sends nothing) when
   * the queue is full or the socket is closed. Never blocks.
   */
  sendFrames(frames: Buffer[]): boolean {
    if (this.#closed) return false;
    if (this.queued >= this.#limit) {
      this.#stats.queueFull++;
      return false;
    }
    this.#queue.push(frames);
    if (!this.#pumping) {
      this.#pumping = true;
      this.#pump().catch((err: unknown) => this.#logger.error({ err, socket: this.#name }, 'send loop failed'));
    }
    return true;
  }

  /** Resolves once everything queued so far has been handed to ZeroMQ. */
  flush(): Promise<void> {
    if (!this.#pumping && this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  /**
   * Closes the socket. With `lingerMs`, first waits (at most that long) for
   * the send queue to drain and lets ZeroMQ deliver what it holds.
   */
  async close(opts: { lingerMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    const lingerMs = opts.lingerMs ?? 0;
    if (lingerMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.flush(), new Promise<void>((r) => (timer = setTimeout(r, lingerMs)))]);
      clearTimeout(timer);
      this.#socket.linger = lingerMs;
    }
    this.closeNow();
    await this.#loop;
    for (const w of this.#flushWaiters.splice(0)) w();
  }

  /** Closes the socket at once, dropping what is queued; the receive loop ends by itself. */
  closeNow(): void {
    openPipes.delete(this);
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
    this.#socket.close();
  }

  #startLoop(): void {
    if (this.#loop) return;
    this.#loop = this.#receiveLoop().catch((err: unknown) => {
      if (!this.#closed) this.#logger.error({ err, socket: this.#name }, 'receive loop failed');
    });
  }

  async #receiveLoop(): Promise<void> {
    while (!this.#closed) {
      let frames: Buffer[];
      try {
        frames = await this.#socket.receive();
      } catch (err) {
        if (this.#closed || this.#socket.closed) return;
        this.#logger.warn({ err, socket: this.#name }, 'receive failed');
        continue;
      }
      this.#stats.received++;
      try {
        this.#onFrames(frames);
      } catch (err) {
        this.#stats.handlerErrors++;
        this.#logger.error({ err, socket: this.#name }, 'message handler threw; message dropped');
      }
      if (this.#scavengeEvery !== Infinity) this.#pace(frames);
    }
  }

  #pace(frames: Buffer[]): void {
    for (const f of frames) if (f.length > 128) this.#receivedBytes += f.length;
    if (this.#receivedBytes < this.#scavengeEvery) return;
    this.#receivedBytes = 0;
    collectYoung();
  }

  async #pump(): Promise<void> {
    try {
      while (this.#head < this.#queue.length && !this.#closed) {
        const frames = this.#queue[this.#head];
        this.#head++;
        if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
          this.#queue = this.#queue.slice(this.#head);
          this.#head = 0;
        }
        try {
          await this.#socket.send(frames);
          this.#stats.sent++;
        } catch (err) {
          if (this.#closed) return;
          this.#stats.sendFailed++;
          this.#logger.debug({ err, socket: this.#name }, 'send failed; message dropped');
        }
      }
    } finally {
      this.#pumping = false;
      if (this.#head >= this.#queue.length) {
        this.#queue = [];
        this.#head = 0;
      }
      for (const w of this.#flushWaiters.splice(0)) w();
    }
  }
}

/** Options shared by the typed sockets. */
export interface MessageSocketOptions {
  name?: string;
  logger?: Logger;
  sendQueueLimit?: number;
  highWaterMark?: number;
  /** Called for every refused message (metrics). */
  onDrop?: (reason: DropReason) => void;
  /** See {@link FramePipeOptions.scavengeEveryBytes}. */
  scavengeEveryBytes?: number;
}

/** Options of {@link RouterSocket}. */
export interface RouterSocketOptions extends MessageSocketOptions {
  /** CURVE server keys (default: plain TCP). */
  curve?: CurveServerOptions;
}

/** Logs refusals without flooding: the first of each reason and peer version at warn, the rest at debug. */
class DropLog {
  readonly #seen = new Set<string>();
  constructor(readonly logger: Logger, readonly name: string) {}
  note(reason: DropReason, detail: string, peerVersion: string | undefined, peer: string | undefined): void {
    const key = `${reason}:${peerVersion ?? ''}:${peer ?? ''}`;
    const fields = { socket: this.name, reason, peer, peerVersion };
    if (this.#seen.size < 1000 && !this.#seen.has(key)) {
      this.#seen.add(key);
      this.logger.warn(fields, reason === 'version' ? `refused peer: ${detail}` : `dropped message: ${detail}`);
    } else this.logger.debug(fields, `dropped message: ${detail}`);
  }
}

/** Handler of typed messages on a router: `peer` is the sender's routing identity. */
export type RouterHandler = (peer: Buffer, message: Message, images: Buffer[]) => void;

/** Handler of typed messages on a dealer. */
export type DealerHandler = (message: Message, images: Buffer[]) => void;

/** Options of {@link DealerSocket}. */
export interface DealerSocketOptions extends MessageSocketOptions {
  routingId?: string;
  /** CURVE client keys (default: plain TCP). */
  curve?: CurveClientOptions;
}

/**
 * What the typed sockets share: the frame pipe, decoding with refusals
 * dropped, counted via `onDrop` and logged, counters, flush and close.
 */
abstract class TypedSocket {
  protected readonly pipe: FramePipe;
  readonly #drops: DropLog;
  readonly #onDrop: (reason: DropReason) => void;

  protected constructor(type: PipeType, opts: MessageSocketOptions & { routingId?: string; curve?: CurveServerOptions | CurveClientOptions }) {
    const logger = opts.logger ?? silentLogger;
    this.#drops = new DropLog(logger, opts.name ?? type);
    this.#onDrop = opts.onDrop ?? (() => {});
    this.pipe = new FramePipe({ ...opts, type, onFrames: (frames) => this.receive(frames) });
  }

  /** Handles one received multipart message. */
  protected abstract receive(frames: Buffer[]): void;

  /** Decodes a message; a refused one is counted and logged, and gives undefined. */
  protected decode(frames: readonly Buffer[], peer: Buffer | undefined): Decoded | undefined {
    const decoded = decodeMessage(frames);
    if (decoded.ok) return decoded;
    this.#onDrop(decoded.reason);
    this.#drops.note(decoded.reason, decoded.detail, decoded.peerVersion, peer?.toString('hex'));
    return undefined;
  }

  /** Counters of the underlying socket. */
  get stats(): PipeStats {
    return this.pipe.stats;
  }

  /** Resolves once queued messages were handed to ZeroMQ. */
  flush(): Promise<void> {
    return this.pipe.flush();
  }

  /** Closes the socket (see {@link FramePipe.close}). */
  close(opts?: { lingerMs?: number }): Promise<void> {
    return this.pipe.close(opts);
  }
}

/**
 * A bound ROUTER speaking the yoloscale protocol: decodes and validates
 * every message (refusals are dropped, counted via `onDrop` and logged) and
 * sends typed messages to a peer through the bounded queue.
 */
export class RouterSocket extends TypedSocket {
  #handler: RouterHandler = () => {};

  constructor(opts: RouterSocketOptions = {}) {
    super('router', opts);
  }

  /** Sets the handler of valid messages (synchronous; must not await sends). */
  onMessage(handler: RouterHandler): void {
    this.#handler = handler;
  }

  /** Binds and starts receiving; resolves with the bound endpoint (`tcp://127.0.0.1:PORT`). */
  bind(endpoint: string): Promise<string> {
    return this.pipe.bind(endpoint);
  }

  /** Enqueues a message to one peer; false when the send queue is full. */
  send(peer: Buffer, message: Message, images?: readonly Uint8Array[]): boolean {
    return this.pipe.sendFrames([peer, ...encodeMessage(message, images)]);
  }

  protected receive(frames: Buffer[]): void {
    const peer = frames[0];
    const decoded = this.decode(frames.slice(1), peer);
    if (decoded) this.#handler(peer, decoded.message, decoded.images);
  }
}

/** A connected DEALER speaking the yoloscale protocol (see {@link RouterSocket}). */
export class DealerSocket extends TypedSocket {
  #handler: DealerHandler = () => {};

  constructor(opts: DealerSocketOptions = {}) {
    super('dealer', opts);
  }

  /** Sets the handler of valid messages (synchronous; must not await sends). */
  onMessage(handler: DealerHandler): void {
    this.#handler = handler;
  }

  /** Connects and starts receiving. */
  connect(endpoint: string): void {
    this.pipe.connect(endpoint);
  }

  /** Enqueues a message; false when the send queue is full. */
  send(message: Message, images?: readonly Uint8Array[]): boolean {
    return this.pipe.sendFrames(encodeMessage(message, images));
  }

  /** Enqueues raw frames as they are (tests of malformed input). */
  sendFrames(frames: Buffer[]): boolean {
    return this.pipe.sendFrames(frames);
  }

  protected receive(frames: Buffer[]): void {
    const decoded = this.decode(frames, undefined);
    if (decoded) this.#handler(decoded.message, decoded.images);
  }
}
