/**
 * The head node's shell: owns the worker ROUTER (`:5555`) and the client
 * ROUTER (`:5556`), and drives the pure cores (lanes, micro-batcher,
 * registry, placement) with the clock and the sockets.
 *
 * Life of a frame: `submit` from a gateway → its lane (fair across tenants)
 * → the model's open batch (pulled only while workers have free slots) →
 * a `batch` to the placed worker → `result` → `reply`/`error` to the
 * gateway. A worker silent for `deadAfterMs` is declared failed and its
 * in-flight frames are re-queued ahead of everything else (at most
 * `maxRequeues` times), so no accepted frame is lost; stale frames are
 * answered `deadline_exceeded`.
 *
 * Images: the scheduler lets go of a frame's image once its batch is handed
 * to the worker's socket, so images live here for milliseconds and die
 * young (each one held until its worker answered was promoted and had to be
 * marked away: `bench scheduler` measured about half the mark-compacts and
 * 10% less CPU per frame without them). Re-queued frames get their images
 * back from their gateway, which holds each image until the frame is
 * answered: `resend` asks for them, `resent` brings them (only from the
 * gateway that submitted the frame), and a frame waits for it at most until
 * its deadline.
 */
import { performance } from 'node:perf_hooks';
import { ErrorCode, IdTable, MessageKind, RouterSocket, scavengePacing, silentLogger } from '../protocol/index.js';
import type { CurveServerOptions, DetectParams, DropReason, FrameOutcome, Lane, Logger, Message, ModelInfo, ReplyOutcome, SubmitFrameHeader } from '../protocol/index.js';
import { MicroBatcher, checkBatcherOptions } from './batcher.js';
import type { Batch } from './batcher.js';
import { LANE_ORDER, LaneQueues, headroomSlots } from './lanes.js';
import type { TenantQueue } from './lanes.js';
import type { MetricsSink } from './metrics-sink.js';
import { NodeState, Registry, nodeView, offers, place } from './registry.js';
import type { NodeAction, NodeRecord, NodeView } from './registry.js';

const NO_IMAGE = Buffer.alloc(0);
/** Gateway reply boxes kept before the outbox starts afresh. */
const MAX_OUTBOXES = 1024;

/** Options of {@link Scheduler}. All optional except `metrics`. */
export interface SchedulerOptions {
  logger?: Logger;
  /** Metric handles (`SchedulerMetrics` on an injected registry, or a `MetricsRecorder` in the core thread). */
  metrics?: MetricsSink;
  /** Most frames per batch (default 16). */
  maxBatch?: number;
  /**
   * Longest wait of an open batch, ms (default 2). Batches go as soon as a
   * worker has a free slot, holding what was already waiting; this bounds
   * the wait of a batch that found no worker before it is tried again.
   */
  maxDelayMs?: number;
  /** Heartbeat period told to workers, ms (default 1,000). */
  heartbeatMs?: number;
  /** A worker silent this long is dead, ms (default 3,000). */
  deadAfterMs?: number;
  /** Times a frame is re-queued after losing its worker before it fails (default 2). */
  maxRequeues?: number;
  /** Frames one tenant may have waiting per lane (default 10,000). */
  perTenantLimit?: number;
  /** Builds each lane's tenant queue (default: the weighted fair queue). */
  createQueue?: (perTenantLimit: number) => TenantQueue<Frame>;
  /** Called for every admitted frame with its model and token cost (feeds the autoscaler's demand series). */
  onAdmit?: (model: string, cost: number) => void;
  /**
   * A scavenge after every this many MB of images received from gateways
   * (default 8; 0: never). Images live here for milliseconds, so each
   * scavenge frees and uncounts them before V8's external-memory limit
   * forces a full mark-compact (protocol/zmq.ts). `bench scheduler`: about
   * two thirds fewer mark-compacts and 10% less scheduler CPU per frame.
   */
  scavengeEveryMb?: number;
  /** CURVE server keys for both ROUTERs (SPEC.md §13; default: plain TCP). Workers and gateways then need the matching public key. */
  curve?: CurveServerOptions;
}

/** A frame inside the scheduler. */
export interface Frame {
  /** Scheduler-wide id. */
  id: number;
  /** Routing identity of the gateway that sent it. */
  client: Buffer;
  seq: number;
  frameId: string;
  model: string;
  params: DetectParams;
  tenant: string;
  weight: number;
  cost: number;
  lane: Lane;
  /** The encoded image; empty once its batch went to a worker (see the module comment). */
  image: Buffer;
  /** Monotonic clock values, ms. */
  receivedAt: number;
  deadlineAt: number;
  dispatchedAt: number;
  /** Dispatches so far. */
  attempts: number;
  /** Answered (result or error) already. */
  done: boolean;
}

interface InFlightBatch {
  id: number;
  model: string;
  node: NodeRecord;
  frames: Frame[];
  sentAt: number;
}

/** The `/v1/queue` view. */
export interface QueueView {
  lanes: Record<Lane, number>;
  /** Frames re-queued after a lost worker, served first. */
  retry: number;
  /** Frames in open batches. */
  batching: number;
  /** Frames on workers. */
  inFlight: number;
  maxBatch: number;
  maxDelayMs: number;
}

/** Bound endpoints of a started scheduler. */
export interface SchedulerEndpoints {
  workers: string;
  clients: string;
}

function int(v: unknown, name: string, min: number): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min)) throw new TypeError(`options.${name} must be an integer ≥ ${min}`);
}

/** The scheduler: see the module comment. */
export class Scheduler {
  readonly #logger: Logger;
  readonly #onAdmit: ((model: string, cost: number) => void) | undefined;
  readonly #metrics: MetricsSink | undefined;
  readonly #registry = new Registry();
  readonly #lanes: LaneQueues<Frame>;
  readonly #batcher: MicroBatcher<Frame>;
  readonly #workers: RouterSocket;
  readonly #clients: RouterSocket;
  readonly #heartbeatMs: number;
  readonly #deadAfterMs: number;
  readonly #maxRequeues: number;
  /** Batches on workers, by batch id (an IdTable: a Map churned per batch would keep every answered batch until a full GC, see protocol/id-table.ts). */
  readonly #inflight = new IdTable<InFlightBatch>();
  /** Frames re-queued after a lost worker, served first; `#retry[#retryHead]` is the next (O(1) pops). */
  #retry: Frame[] = [];
  #retryHead = 0;
  /** Re-queued frames waiting for their gateway to send their images again, by frame id. */
  readonly #awaitingImages = new Map<number, Frame>();
  #frameSeq = 0;
  #batchSeq = 0;
  #inFlightFrames = 0;
  #pumpScheduled = false;
  #dueTimer: NodeJS.Timeout | undefined;
  #dueAt = Infinity;
  #sweepTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #curve: boolean;
  /**
   * One box per gateway connection, kept between flushes (adding and
   * deleting Map entries per reply would promote every reply, see
   * protocol/id-table.ts); `#dirty` lists the boxes with outcomes to send.
   */
  readonly #outbox = new Map<string, { peer: Buffer; outcomes: ReplyOutcome[] }>();
  readonly #dirty: Array<{ peer: Buffer; outcomes: ReplyOutcome[] }> = [];
  #flushQueued = false;
  #lastPeer: Buffer | undefined;
  #lastPeerKey = '';

  constructor(opts: SchedulerOptions = {}) {
    const b = checkBatcherOptions(opts);
    int(opts.heartbeatMs, 'heartbeatMs', 1);
    int(opts.deadAfterMs, 'deadAfterMs', 1);
    int(opts.maxRequeues, 'maxRequeues', 0);
    int(opts.perTenantLimit, 'perTenantLimit', 1);
    const pacing = scavengePacing(opts.scavengeEveryMb);
    this.#logger = opts.logger ?? silentLogger;
    this.#onAdmit = opts.onAdmit;
    this.#curve = opts.curve !== undefined;
    this.#metrics = opts.metrics;
    this.#heartbeatMs = opts.heartbeatMs ?? 1_000;
    this.#deadAfterMs = opts.deadAfterMs ?? 3_000;
    this.#maxRequeues = opts.maxRequeues ?? 2;
    this.#batcher = new MicroBatcher<Frame>(b);
    this.#lanes = new LaneQueues<Frame>({ perTenantLimit: opts.perTenantLimit, createQueue: opts.createQueue });
    const dropped = (socket: string) => (reason: DropReason) => this.#metrics?.dropped.inc({ socket, reason });
    this.#workers = new RouterSocket({ name: 'workers', logger: this.#logger, onDrop: dropped('workers'), curve: opts.curve });
    this.#clients = new RouterSocket({
      name: 'clients',
      logger: this.#logger,
      onDrop: dropped('clients'),
      curve: opts.curve,
      ...pacing,
    });
    this.#workers.onMessage((peer, m, images) => this.#onWorker(peer, m, images));
    this.#clients.onMessage((peer, m, images) => this.#onClient(peer, m, images));
  }

  /** The node registry (the autoscaler records provisioning nodes in it). */
  get registry(): Registry {
    return this.#registry;
  }

  /** Binds both ROUTERs (`tcp://HOST:PORT`, port 0 picks one) and starts the timers. */
  async start(workerEndpoint: string, clientEndpoint: string): Promise<SchedulerEndpoints> {
    const workers = await this.#workers.bind(workerEndpoint);
    const clients = await this.#clients.bind(clientEndpoint);
    this.#sweepTimer = setInterval(() => this.#sweep(), 100);
    this.#logger.info({ workers, clients, curve: this.#curve }, 'scheduler listening');
    return { workers, clients };
  }

  /** Stops timers and closes both sockets. Frames still queued are answered `no_capacity`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    clearInterval(this.#sweepTimer);
    clearTimeout(this.#dueTimer);
    const leftovers: Frame[] = [...this.#retry.slice(this.#retryHead), ...this.#awaitingImages.values(), ...this.#batcher.removeWhere(() => true)];
    for (let f = this.#lanes.pop(); f; f = this.#lanes.pop()) leftovers.push(f);
    for (const b of this.#inflight.values()) leftovers.push(...b.frames);
    for (const f of leftovers) if (!f.done) this.#fail(f, ErrorCode.noCapacity, 'scheduler shutting down', 1);
    this.#flushReplies();
    this.#closed = true;
    await this.#clients.close({ lingerMs: 200 });
    await this.#workers.close();
  }

  /** Every node, for `GET /v1/nodes`. */
  nodes(): NodeView[] {
    const now = performance.now();
    return this.#registry.list().map((n) => nodeView(n, now));
  }

  /** One node, or undefined. */
  node(id: string): NodeView | undefined {
    const n = this.#registry.get(id);
    return n ? nodeView(n, performance.now()) : undefined;
  }

  /**
   * Applies an admin action (`cordon`, `uncordon`, `drain`, `retire`) and
   * tells the node's agent where needed. Throws `not_found` / `conflict`.
   */
  act(id: string, action: NodeAction): NodeView {
    const peer = this.#registry.get(id)?.peer ?? null;
    const retired = this.#registry.apply(id, action, Date.now());
    if (peer && (action === 'drain' || (action === 'retire' && !retired))) this.#workers.send(peer, { kind: MessageKind.drain, nodeId: id });
    if (peer && retired) this.#workers.send(peer, { kind: MessageKind.retire, nodeId: id });
    this.#logger.info({ node: id, action }, `node ${action}`);
    this.#schedulePump();
    return this.node(id) as NodeView;
  }

  /** Queue depths, for `GET /v1/queue`. */
  queue(): QueueView {
    const lanes = Object.fromEntries(LANE_ORDER.map((l) => [l, this.#lanes.depth(l)])) as Record<Lane, number>;
    return { lanes, retry: this.#retry.length - this.#retryHead + this.#awaitingImages.size, batching: this.#batcher.size, inFlight: this.#inFlightFrames, maxBatch: this.#batcher.maxBatch, maxDelayMs: this.#batcher.maxDelayMs };
  }

  /** Frames waiting in one lane (metrics). */
  queueDepth(lane: Lane): number {
    return this.#lanes.depth(lane);
  }

  // ── workers ────────────────────────────────────────────────────────────

  #onWorker(peer: Buffer, m: Message, _images: Buffer[]): void {
    const now = performance.now();
    const node = this.#registry.byPeer(peer);
    if (node) this.#registry.touch(node, now);
    switch (m.kind) {
      case MessageKind.register: {
        const prev = this.#registry.get(m.nodeId);
        if (prev && prev.peer && !prev.peer.equals(peer)) this.#requeueNode(prev, 'node re-registered from a new connection');
        const n = this.#registry.register(peer, m, now, Date.now());
        this.#workers.send(peer, { kind: MessageKind.registered, nodeId: n.id, heartbeatMs: this.#heartbeatMs });
        this.#logger.info({ node: n.id, device: n.device, threads: n.threads, slots: n.slots, models: n.models.map((x) => x.id), state: n.state }, 'node registered');
        this.#schedulePump();
        return;
      }
      case MessageKind.heartbeat:
        if (!node || node.id !== m.nodeId) {
          this.#workers.send(peer, { kind: MessageKind.reregister });
          return;
        }
        node.loaded = new Set([...node.loaded, ...m.loaded]);
        if (m.draining && node.state !== NodeState.draining) this.#registry.selfDrain(node, Date.now());
        return;
      case MessageKind.result:
        this.#onResult(node, m.batchId, m.outcomes, now);
        return;
      case MessageKind.drain:
        if (node) {
          this.#registry.selfDrain(node, Date.now());
          this.#logger.info({ node: node.id }, 'node draining itself');
          this.#settle(node);
        }
        return;
      case MessageKind.drained:
        if (node) this.#settle(node);
        return;
      default:
        this.#metrics?.dropped.inc({ socket: 'workers', reason: 'unexpected' });
        this.#logger.debug({ kind: m.kind }, 'unexpected message from a worker; dropped');
    }
  }

  #settle(node: NodeRecord): void {
    const peer = node.peer;
    if (this.#registry.settle(node, Date.now())) {
      this.#logger.info({ node: node.id }, 'node retired');
      if (peer) this.#workers.send(peer, { kind: MessageKind.retire, nodeId: node.id });
    }
  }

  #onResult(node: NodeRecord | undefined, batchId: number, outcomes: FrameOutcome[], now: number): void {
    const batch = this.#inflight.get(batchId);
    if (!batch || !node || batch.node !== node) {
      this.#logger.debug({ batchId }, 'result of an unknown batch (re-queued or foreign); dropped');
      return;
    }
    this.#inflight.delete(batchId);
    const byId = new Map<number, FrameOutcome>();
    for (const o of outcomes) byId.set(o.id, o);
    node.inFlight -= batch.frames.length;
    node.batches--;
    node.framesDone += batch.frames.length;
    this.#inFlightFrames -= batch.frames.length;
    // One model per batch: the counters move once per batch, not once per frame.
    let ok = 0;
    let tokens = 0;
    for (const f of batch.frames) {
      if (f.done) continue;
      const o = byId.get(f.id);
      if (!o) this.#fail(f, ErrorCode.internal, 'worker returned no outcome for the frame');
      else if (o.error) this.#fail(f, o.error.code, o.error.message);
      else if (o.result) {
        f.done = true;
        const r = o.result;
        r.timing.queueMs = f.dispatchedAt - f.receivedAt + r.timing.queueMs;
        r.timing.totalMs = now - f.receivedAt;
        this.#reply(f.client, { seq: f.seq, result: r });
        ok++;
        tokens += f.cost;
        this.#metrics?.inferenceSeconds.observe(r.timing.inferMs / 1000);
        this.#metrics?.queueWaitSeconds.observe(r.timing.queueMs / 1000);
      }
    }
    if (this.#metrics && ok > 0) {
      this.#metrics.frames.inc({ model: batch.model, outcome: 'ok' }, ok);
      this.#metrics.tokenRate.add(batch.model, tokens, Date.now());
    }
    if (node.state === NodeState.draining) this.#settle(node);
    this.#schedulePump();
  }

  /** Re-queues (or fails) every frame in flight on a lost node; their gateways are asked for the images again. */
  #requeueNode(node: NodeRecord, why: string): void {
    let requeued = 0;
    let failed = 0;
    const resend = new Map<string, { peer: Buffer; frames: Array<{ id: number; seq: number }> }>();
    for (const [id, b] of this.#inflight.entries()) {
      if (b.node !== node) continue;
      this.#inflight.delete(id);
      this.#inFlightFrames -= b.frames.length;
      for (const f of b.frames) {
        if (f.done) continue;
        if (f.attempts > this.#maxRequeues) {
          this.#fail(f, ErrorCode.internal, `frame lost with its worker ${f.attempts} times`);
          failed++;
          continue;
        }
        requeued++;
        this.#awaitingImages.set(f.id, f);
        const key = f.client.toString('latin1');
        let r = resend.get(key);
        if (!r) resend.set(key, (r = { peer: f.client, frames: [] }));
        r.frames.push({ id: f.id, seq: f.seq });
      }
    }
    for (const { peer, frames } of resend.values()) {
      this.#toClientInChunks(peer, frames, (chunk) => ({ kind: MessageKind.resend, frames: chunk }));
    }
    this.#registry.reset(node);
    this.#metrics?.requeued.inc(requeued);
    if (requeued || failed) this.#logger.warn({ node: node.id, requeued, failed }, `${why}: in-flight frames re-queued`);
    this.#schedulePump();
  }

  // ── clients ────────────────────────────────────────────────────────────

  #onClient(peer: Buffer, m: Message, images: Buffer[]): void {
    switch (m.kind) {
      case MessageKind.submit: {
        const now = performance.now();
        // Nothing waiting before this message: its frames are dispatched now rather than on the next turn (that turn measured ~40 µs of p50).
        const idle = !this.#pumpScheduled && this.#batcher.size === 0 && this.#retry.length === 0 && this.#lanes.tenantsWaiting() === 0;
        const ready = this.#registry.ready();
        // Whether a ready node offers the model, asked once per model of the message.
        const offered = new Map<string, boolean>();
        for (let i = 0; i < m.frames.length; i++) {
          const h = m.frames[i];
          if (h.budgetMs <= 0) {
            this.#refuse(peer, h, ErrorCode.deadlineExceeded, 'deadline passed before the frame reached the scheduler');
            continue;
          }
          let known = offered.get(h.model);
          if (known === undefined) offered.set(h.model, (known = ready.some((n) => offers(n, h.model))));
          if (!known) {
            if (ready.length === 0) this.#refuse(peer, h, ErrorCode.noCapacity, 'no worker node is ready', 1);
            else this.#refuse(peer, h, ErrorCode.unknownModel, `no ready worker offers model "${h.model}"`);
            continue;
          }
          const frame: Frame = {
            id: ++this.#frameSeq,
            client: peer,
            seq: h.seq,
            frameId: h.frameId,
            model: h.model,
            params: h.params,
            tenant: h.tenant,
            weight: h.weight > 0 ? h.weight : 1,
            cost: h.cost,
            lane: h.lane,
            image: images[i],
            receivedAt: now,
            deadlineAt: now + h.budgetMs,
            dispatchedAt: 0,
            attempts: 0,
            done: false,
          };
          // Cost 0 (best-effort) still takes a turn in the fair order.
          if (!this.#lanes.push(frame.lane, frame.tenant, frame.weight, Math.max(frame.cost, 1e-3), frame)) {
            this.#refuse(peer, h, ErrorCode.overloaded, `tenant queue full in lane ${frame.lane}`, 1);
            continue;
          }
          this.#onAdmit?.(frame.model, frame.cost);
        }
        if (idle) this.#pumpSafely();
        else this.#schedulePump();
        return;
      }
      case MessageKind.ping:
        this.#clients.send(peer, this.#status());
        return;
      case MessageKind.resent:
        this.#onResent(peer, m.ids, m.missing, images);
        return;
      default:
        this.#metrics?.dropped.inc({ socket: 'clients', reason: 'unexpected' });
        this.#logger.debug({ kind: m.kind }, 'unexpected message from a client; dropped');
    }
  }

  /** Images of re-queued frames, back from their gateway: the frames join the retry queue. */
  #onResent(peer: Buffer, ids: number[], missing: number[], images: Buffer[]): void {
    const own = (id: number): Frame | undefined => {
      const f = this.#awaitingImages.get(id);
      // Only the gateway that submitted a frame may supply its image.
      return f && f.client.equals(peer) ? f : undefined;
    };
    for (let i = 0; i < ids.length; i++) {
      const f = own(ids[i]);
      if (!f || images[i].length === 0) continue;
      this.#awaitingImages.delete(f.id);
      if (f.done) continue;
      f.image = images[i];
      this.#retry.push(f);
    }
    for (const id of missing) {
      const f = own(id);
      if (!f) continue;
      // The gateway has answered or given up on the frame already: nothing to send it.
      this.#awaitingImages.delete(id);
      f.done = true;
    }
    this.#schedulePump();
  }

  /** Answers a submitted frame that was not admitted. */
  #refuse(peer: Buffer, h: SubmitFrameHeader, code: ErrorCode, message: string, retryAfterS?: number): void {
    this.#reply(peer, { seq: h.seq, error: retryAfterS === undefined ? { code, message } : { code, message, retryAfterS } });
    // Model names nobody offers are not used as label values (unbounded cardinality).
    this.#metrics?.frames.inc({ model: code === ErrorCode.unknownModel ? 'unknown' : h.model, outcome: code });
  }

  #status(): Message {
    const ready = this.#registry.ready();
    const models = new Map<string, ModelInfo>();
    for (const n of ready) for (const info of n.models) if (!models.has(info.id)) models.set(info.id, info);
    return { kind: MessageKind.status, readyNodes: ready.length, models: [...models.values()] };
  }

  #fail(f: Frame, code: ErrorCode, message: string, retryAfterS?: number): void {
    f.done = true;
    this.#reply(f.client, { seq: f.seq, error: retryAfterS === undefined ? { code, message } : { code, message, retryAfterS } });
    this.#metrics?.frames.inc({ model: f.model, outcome: code });
  }

  /** Queues an outcome for a gateway; outcomes ready in the same tick go in one `reply`. */
  #reply(peer: Buffer, outcome: ReplyOutcome): void {
    // Frames of one submit share their peer buffer: its key is computed once.
    if (peer !== this.#lastPeer) {
      this.#lastPeer = peer;
      this.#lastPeerKey = peer.toString('latin1');
    }
    const key = this.#lastPeerKey;
    let box = this.#outbox.get(key);
    if (!box) {
      // Gateways that reconnected leave boxes behind: start afresh when there are many (boxes with outcomes still go out, from #dirty).
      if (this.#outbox.size >= MAX_OUTBOXES) this.#outbox.clear();
      this.#outbox.set(key, (box = { peer, outcomes: [] }));
    }
    if (box.outcomes.length === 0) this.#dirty.push(box);
    box.outcomes.push(outcome);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flushReplies());
    }
  }

  #flushReplies(): void {
    this.#flushQueued = false;
    for (const box of this.#dirty) {
      const outcomes = box.outcomes;
      box.outcomes = [];
      this.#toClientInChunks(box.peer, outcomes, (chunk) => ({ kind: MessageKind.reply, outcomes: chunk }));
    }
    this.#dirty.length = 0;
  }

  /** Sends items to one gateway, at most 256 per message. */
  #toClientInChunks<T>(peer: Buffer, items: T[], message: (chunk: T[]) => Message): void {
    for (let i = 0; i < items.length; i += 256) this.#clients.send(peer, message(items.slice(i, i + 256)));
  }

  // ── dispatch ───────────────────────────────────────────────────────────

  /**
   * Dispatches on the next turn of the event loop, so that every message
   * already received (results freeing slots, more submits) is in before
   * batches are cut.
   */
  #schedulePump(): void {
    if (this.#pumpScheduled || this.#closed) return;
    this.#pumpScheduled = true;
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pumpSafely();
    });
  }

  #pumpSafely(): void {
    if (this.#closed) return;
    try {
      this.#pump();
    } catch (err) {
      this.#logger.error({ err }, 'dispatch failed');
    }
  }

  #nextWaiting(): Frame | undefined {
    if (this.#retry.length === 0) return this.#lanes.pop();
    const f = this.#retry[this.#retryHead++];
    // Emptied: start over, so `#retry.length === 0` means no retries waiting.
    if (this.#retryHead >= this.#retry.length) {
      this.#retry = [];
      this.#retryHead = 0;
    }
    return f;
  }

  /**
   * Moves frames from the lanes into batches while workers have free slots,
   * and sends every open batch a worker has a free slot for at once: a batch
   * holds what was already waiting (a backlog makes big batches, a quiet
   * cluster sends single frames with no added delay). A batch no worker can
   * take now waits for the next result, registration or its `maxDelayMs`.
   */
  #pump(): void {
    const now = performance.now();
    let free = -this.#batcher.size;
    let slots = 0;
    for (const n of this.#registry.ready()) {
      free += Math.max(0, n.slots - n.inFlight);
      slots += n.slots;
    }
    while (free > 0) {
      // A lone backlogged tenant leaves some headroom for others' arrivals (re-queued frames always go).
      if (this.#retry.length === 0 && free <= headroomSlots(slots, this.#lanes.tenantsWaiting())) break;
      const f = this.#nextWaiting();
      if (!f) break;
      if (f.done) continue;
      if (now >= f.deadlineAt) {
        this.#fail(f, ErrorCode.deadlineExceeded, 'frame waited past its deadline');
        continue;
      }
      free--;
      const full = this.#batcher.add(f.model, f, now);
      if (full) this.#dispatch(full, now);
    }
    for (const model of this.#batcher.models()) {
      const b = this.#batcher.take(model);
      if (b) this.#dispatch(b, now);
    }
    this.#armDueTimer(now);
  }

  #armDueTimer(now: number): void {
    const at = this.#batcher.nextDueAt();
    // A due batch that found no worker waits for the next event (result, registration, sweep).
    if (at === null || at <= now || at >= this.#dueAt) return;
    clearTimeout(this.#dueTimer);
    this.#dueAt = at;
    this.#dueTimer = setTimeout(() => {
      this.#dueAt = Infinity;
      this.#schedulePump();
    }, Math.max(0, at - now));
  }

  #dispatch(batch: Batch<Frame>, now: number): void {
    let items = batch.items;
    while (items.length > 0) {
      const p = place(this.#registry.list(), batch.model, Math.min(items.length, this.#batcher.maxBatch));
      if (!p) break;
      const chunk = items.slice(0, p.take);
      const id = ++this.#batchSeq;
      const sent = this.#workers.send(
        p.node.peer as Buffer,
        { kind: MessageKind.batch, batchId: id, model: batch.model, frames: chunk.map((f) => ({ id: f.id, params: f.params })) },
        chunk.map((f) => f.image),
      );
      if (!sent) break;
      items = items.slice(p.take);
      p.node.inFlight += chunk.length;
      p.node.batches++;
      p.node.loaded.add(batch.model);
      this.#inFlightFrames += chunk.length;
      for (const f of chunk) {
        f.attempts++;
        f.dispatchedAt = now;
        // The worker's socket holds the image now; the gateway has it if it is needed again.
        f.image = NO_IMAGE;
      }
      this.#inflight.set(id, { id, model: batch.model, node: p.node, frames: chunk, sentAt: now });
      this.#metrics?.batchSize.observe(chunk.length);
    }
    if (items.length > 0) this.#batcher.restore({ model: batch.model, items, openedAt: batch.openedAt });
  }

  // ── timers ─────────────────────────────────────────────────────────────

  #sweepCount = 0;

  #sweep(): void {
    try {
      const now = performance.now();
      const nowEpoch = Date.now();
      for (const node of this.#registry.expire(now, this.#deadAfterMs, nowEpoch)) {
        this.#logger.warn({ node: node.id, silentMs: Math.round(now - node.lastSeen) }, 'node silent past the heartbeat timeout: declared failed');
        this.#requeueNode(node, 'node failed');
      }
      const stale = (x: Frame) => x.done || now >= x.deadlineAt;
      // Queued frames are also checked when popped; scanning the lanes every 500 ms answers them on time without an O(queue) scan per 100 ms.
      const sweepLanes = ++this.#sweepCount % 5 === 0;
      for (const f of [...(sweepLanes ? this.#lanes.removeWhere(stale) : []), ...this.#batcher.removeWhere(stale)]) {
        if (!f.done) this.#fail(f, ErrorCode.deadlineExceeded, 'frame waited past its deadline');
      }
      for (const f of this.#awaitingImages.values()) {
        if (f.done) this.#awaitingImages.delete(f.id);
        else if (now >= f.deadlineAt) {
          this.#awaitingImages.delete(f.id);
          this.#fail(f, ErrorCode.deadlineExceeded, 'frame waited past its deadline for its image to be sent again');
        }
      }
      // Frames on workers past their deadline are answered now; their slots stay held until the worker answers or dies.
      for (const b of this.#inflight.values()) for (const f of b.frames) if (!f.done && now >= f.deadlineAt) this.#fail(f, ErrorCode.deadlineExceeded, 'worker did not answer before the deadline');
      if (this.#sweepCount % 600 === 0) this.#registry.prune(nowEpoch, 3_600_000);
      this.#pump();
    } catch (err) {
      this.#logger.error({ err }, 'sweep failed');
    }
  }
}
