/**
 * The worker node agent: one DEALER to the scheduler's worker ROUTER.
 * Registers the node (id, device, threads, slots, models), heartbeats,
 * runs each `batch` on the engine (or answers `echo` frames at once) and
 * returns per-frame outcomes; drains on request or on `drain()` (finishes
 * in-flight work, takes no new work, tells the scheduler); registers again
 * when a restarted scheduler does not know it.
 */
import { hostname } from 'node:os';
import { DealerSocket, ErrorCode, MessageKind, scavengePacing, silentLogger, toYoloscaleError } from '../../protocol/index.js';
import type { BatchMessage, CurveClientOptions, DropReason, FrameOutcome, Logger, Message, ModelInfo } from '../../protocol/index.js';
import { ECHO_MODEL, ECHO_MODEL_INFO, echoOutcome } from './echo.js';
import type { EngineLike } from './engine-like.js';

/** Options of {@link NodeAgent}. */
export interface NodeAgentOptions {
  /** Scheduler worker endpoint, `tcp://HOST:5555`. */
  scheduler: string;
  /** Node id (default `HOSTNAME-PID`). */
  nodeId?: string;
  /** The engine, or null for an echo-only node. */
  engine: EngineLike | null;
  /** Offer the `echo` model. */
  echo?: boolean;
  /** Frames accepted in flight (default: 1,024 echo-only, else 4 × engine threads). */
  slots?: number;
  /** Heartbeat period until the scheduler says otherwise, ms (default 1,000). */
  heartbeatMs?: number;
  /**
   * A scavenge after every this many MB of received images (default 8; 0:
   * never), so images of finished batches are freed before V8's
   * external-memory limit forces a full mark-compact (protocol/zmq.ts).
   * `bench scheduler` with echo workers: about 20% less worker CPU per frame.
   */
  scavengeEveryMb?: number;
  /** Delay before `echo` frames are answered, ms (default 0: at once). Simulates inference time in tests and chaos runs. */
  echoDelayMs?: number;
  /** CURVE client keys: the scheduler's public key, and optionally this node's keypair (SPEC.md §13; default: plain TCP). */
  curve?: CurveClientOptions;
  logger?: Logger;
}

/** Why the agent dropped a message from the scheduler: a codec refusal, or a valid message of a kind a worker never receives. */
export type AgentDropReason = DropReason | 'unexpected';

/** Life of the agent. */
export type AgentState = 'starting' | 'registered' | 'draining' | 'closed';

/** See the module comment. */
export class NodeAgent {
  readonly nodeId: string;
  readonly #endpoint: string;
  readonly #engine: EngineLike | null;
  readonly #echo: boolean;
  readonly #slots: number;
  readonly #echoDelayMs: number;
  readonly #logger: Logger;
  readonly #socket: DealerSocket;
  #heartbeatMs: number;
  #timer: NodeJS.Timeout | undefined;
  #models: ModelInfo[] = [];
  #inFlight = 0;
  #state: AgentState = 'starting';
  #drainedSent = false;
  #idleWaiters: Array<() => void> = [];
  readonly #dropped = new Map<AgentDropReason, number>();
  #droppedTotal = 0;
  #droppedReported = 0;
  #resolveClosed: () => void = () => {};
  /** Settles when the agent closed (retired by the scheduler, or `close()`). */
  readonly closed: Promise<void>;

  constructor(opts: NodeAgentOptions) {
    if (!opts || typeof opts.scheduler !== 'string' || !/^tcp:\/\/.+:\d+$/.test(opts.scheduler)) throw new TypeError('options.scheduler must look like tcp://HOST:PORT');
    if (opts.engine === undefined) throw new TypeError('options.engine must be an engine or null');
    if (opts.engine === null && !opts.echo) throw new TypeError('options.echo must be true for a node without an engine');
    if (opts.slots !== undefined && (!Number.isInteger(opts.slots) || opts.slots < 1)) throw new TypeError('options.slots must be a positive integer');
    if (opts.heartbeatMs !== undefined && (!Number.isInteger(opts.heartbeatMs) || opts.heartbeatMs < 1)) throw new TypeError('options.heartbeatMs must be a positive integer');
    if (opts.nodeId !== undefined && (typeof opts.nodeId !== 'string' || !/^[\w.:-]{1,128}$/.test(opts.nodeId))) throw new TypeError('options.nodeId must be 1–128 letters, digits, or . _ : -');
    if (opts.echoDelayMs !== undefined && (typeof opts.echoDelayMs !== 'number' || !(opts.echoDelayMs >= 0))) throw new TypeError('options.echoDelayMs must be a number ≥ 0');
    this.#echoDelayMs = opts.echoDelayMs ?? 0;
    this.nodeId = opts.nodeId ?? `${hostname()}-${process.pid}`;
    this.#endpoint = opts.scheduler;
    this.#engine = opts.engine;
    this.#echo = opts.echo ?? false;
    this.#slots = opts.slots ?? (this.#engine ? Math.max(4, this.#engine.threads * 4) : 1024);
    this.#heartbeatMs = opts.heartbeatMs ?? 1_000;
    this.#logger = (opts.logger ?? silentLogger).child({ node: this.nodeId });
    this.#socket = new DealerSocket({ name: 'agent', logger: this.#logger, curve: opts.curve, onDrop: (reason) => this.#countDrop(reason), ...scavengePacing(opts.scavengeEveryMb) });
    this.#socket.onMessage((m, images) => this.#onMessage(m, images));
    this.closed = new Promise((r) => (this.#resolveClosed = r));
  }

  /** Current state. */
  get state(): AgentState {
    return this.#state;
  }

  /** Frames in flight on this node. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Messages from the scheduler's side dropped so far (SPEC.md §13:
   * malformed, foreign or wrong-version frames, and kinds a worker never
   * receives), by reason. The count is also logged with each heartbeat
   * after it grew. A copy.
   */
  get droppedMessages(): Record<string, number> {
    return Object.fromEntries(this.#dropped);
  }

  #countDrop(reason: AgentDropReason): void {
    this.#dropped.set(reason, (this.#dropped.get(reason) ?? 0) + 1);
    this.#droppedTotal++;
  }

  /** One warn line per heartbeat while drops keep coming, instead of one per message. */
  #reportDrops(): void {
    if (this.#droppedTotal === this.#droppedReported) return;
    this.#logger.warn({ dropped: this.droppedMessages, since: this.#droppedTotal - this.#droppedReported }, 'dropped malformed or foreign messages from the scheduler socket');
    this.#droppedReported = this.#droppedTotal;
  }

  /** Lists the models, connects and registers. */
  async start(): Promise<void> {
    const models = this.#engine ? await this.#engine.listModels() : [];
    this.#models = this.#echo ? [...models, ECHO_MODEL_INFO] : models;
    this.#socket.connect(this.#endpoint);
    this.#register();
    this.#armHeartbeat();
    this.#logger.info({ scheduler: this.#endpoint, slots: this.#slots, models: this.#models.map((m) => m.id) }, 'worker agent started');
  }

  /**
   * Drains: tells the scheduler, takes no new work, resolves when every
   * in-flight frame was answered (then tells the scheduler `drained`).
   */
  async drain(): Promise<void> {
    return this.#drain(true);
  }

  async #drain(announce: boolean): Promise<void> {
    if (this.#state === 'closed') return;
    if (this.#state !== 'draining') {
      this.#state = 'draining';
      if (announce) this.#socket.send({ kind: MessageKind.drain, nodeId: this.nodeId });
      this.#logger.info({ inFlight: this.#inFlight, requestedBy: announce ? 'node' : 'scheduler' }, 'draining');
    }
    if (this.#inFlight > 0) await new Promise<void>((r) => this.#idleWaiters.push(r));
    this.#sendDrained();
    await this.#socket.flush();
  }

  /** Stops heartbeats, closes the socket (delivering what is queued) and the engine. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearInterval(this.#timer);
    await this.#socket.close({ lingerMs: 1_000 });
    if (this.#engine) await this.#engine.close();
    this.#logger.info({}, 'worker agent closed');
    this.#resolveClosed();
  }

  #register(): void {
    this.#socket.send({
      kind: MessageKind.register,
      nodeId: this.nodeId,
      device: this.#engine?.device ?? 'cpu',
      threads: this.#engine?.threads ?? 1,
      slots: this.#slots,
      loaded: this.#loaded(),
      models: this.#models,
      host: hostname(),
      pid: process.pid,
      inFlight: this.#inFlight,
      draining: this.#state === 'draining',
    });
  }

  #loaded(): string[] {
    const loaded = this.#engine ? this.#engine.loadedModels() : [];
    return this.#echo ? [...loaded, ECHO_MODEL] : loaded;
  }

  #armHeartbeat(): void {
    clearInterval(this.#timer);
    this.#timer = setInterval(() => {
      this.#socket.send({ kind: MessageKind.heartbeat, nodeId: this.nodeId, inFlight: this.#inFlight, loaded: this.#loaded(), draining: this.#state === 'draining' });
      this.#reportDrops();
    }, this.#heartbeatMs);
  }

  #onMessage(m: Message, images: Buffer[]): void {
    switch (m.kind) {
      case MessageKind.registered:
        if (this.#state === 'starting') this.#state = 'registered';
        if (m.heartbeatMs !== this.#heartbeatMs) {
          this.#heartbeatMs = m.heartbeatMs;
          this.#armHeartbeat();
        }
        this.#logger.info({}, 'registered with the scheduler');
        return;
      case MessageKind.reregister:
        this.#logger.info({}, 'scheduler does not know this node (restarted?): registering again');
        this.#register();
        return;
      case MessageKind.batch:
        this.#runBatch(m, images);
        return;
      case MessageKind.drain:
        this.#drain(false).catch((err: unknown) => this.#logger.error({ err }, 'drain failed'));
        return;
      case MessageKind.retire:
        this.#logger.info({}, 'retired by the scheduler');
        this.#drain(false)
          .then(() => this.close())
          .catch((err: unknown) => this.#logger.error({ err }, 'retire failed'));
        return;
      default:
        this.#countDrop('unexpected');
        this.#logger.debug({ kind: m.kind }, 'unexpected message from the scheduler; dropped');
    }
  }

  #runBatch(m: BatchMessage, images: Buffer[]): void {
    const n = m.frames.length;
    if (m.model === ECHO_MODEL && this.#echo) {
      const outcomes = m.frames.map((f, i) => echoOutcome(f.id, images[i]));
      if (this.#echoDelayMs === 0) {
        this.#socket.send({ kind: MessageKind.result, batchId: m.batchId, outcomes });
        return;
      }
      this.#inFlight += n;
      setTimeout(() => {
        this.#socket.send({ kind: MessageKind.result, batchId: m.batchId, outcomes });
        this.#settleFrames(n);
      }, this.#echoDelayMs);
      return;
    }
    if (!this.#engine || !this.#models.some((x) => x.id === m.model)) {
      const error = { code: ErrorCode.unknownModel, message: `node ${this.nodeId} does not offer model "${m.model}"` };
      this.#socket.send({ kind: MessageKind.result, batchId: m.batchId, outcomes: m.frames.map((f) => ({ id: f.id, error })) });
      return;
    }
    this.#inFlight += n;
    const items = m.frames.map((f, i) => ({ image: images[i], params: f.params }));
    this.#engine
      .detectBatch(m.model, items)
      .then(
        (results): FrameOutcome[] =>
          m.frames.map((f, i) => {
            const r = results[i];
            if (r === undefined) return { id: f.id, error: { code: ErrorCode.internal, message: 'engine returned no result for the frame' } };
            if (r instanceof Error) {
              const e = toYoloscaleError(r);
              return { id: f.id, error: { code: e.code, message: e.message } };
            }
            return { id: f.id, result: r };
          }),
        (err: unknown): FrameOutcome[] => {
          const e = toYoloscaleError(err);
          this.#logger.warn({ err, model: m.model }, 'batch failed');
          return m.frames.map((f) => ({ id: f.id, error: { code: e.code, message: e.message } }));
        },
      )
      .then((outcomes) => {
        this.#socket.send({ kind: MessageKind.result, batchId: m.batchId, outcomes });
      })
      .catch((err: unknown) => this.#logger.error({ err }, 'sending a result failed'))
      .finally(() => this.#settleFrames(n));
  }

  #settleFrames(n: number): void {
    this.#inFlight -= n;
    if (this.#inFlight === 0) for (const w of this.#idleWaiters.splice(0)) w();
  }

  #sendDrained(): void {
    if (this.#drainedSent) return;
    this.#drainedSent = true;
    this.#socket.send({ kind: MessageKind.drained, nodeId: this.nodeId });
  }
}
