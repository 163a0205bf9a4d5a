/**
 * The main thread's handle on the scheduler core thread (core-thread.ts):
 * starts it, asks it for node views and admin actions, applies the metrics
 * it hands over every tick to the process's prom-client metrics, and keeps
 * its latest snapshot for what must be read synchronously (gauges, the
 * autoscaler's view of the nodes).
 */
import { Worker } from 'node:worker_threads';
import { ErrorCode, YoloscaleError, silentLogger } from '../protocol/index.js';
import type { ErrorCode as ErrorCodeT, Lane, Logger } from '../protocol/index.js';
import type { CoreEvent, CoreRequestBody, CoreSnapshot, CoreThreadData } from './core-thread-messages.js';
import type { NodeSummary } from './core-thread-messages.js';
import { LANE_ORDER } from './lanes.js';
import { applyMetricsDelta } from './metrics-sink.js';
import type { MetricsSink } from './metrics-sink.js';
import { NODE_STATES } from './registry.js';
import type { NodeAction, NodeState, NodeView } from './registry.js';
import type { QueueView, SchedulerEndpoints } from './scheduler.js';

const RUNNING_TS = import.meta.url.endsWith('.ts');

/** Options of {@link SchedulerHost.start}. */
export interface SchedulerHostOptions extends Omit<CoreThreadData, 'recordAdmits' | 'tickMs'> {
  logger?: Logger;
  /** The process's metrics; each tick's delta is applied to them. */
  metrics?: MetricsSink;
  /** Called with each model's admitted token cost, once per tick. */
  onAdmit?: (model: string, cost: number) => void;
  /** Tick period, ms (default 250). */
  tickMs?: number;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

const noLanes = (): Record<Lane, number> => Object.fromEntries(LANE_ORDER.map((l) => [l, 0])) as Record<Lane, number>;
const EMPTY_SNAPSHOT: CoreSnapshot = {
  queue: { lanes: noLanes(), retry: 0, batching: 0, inFlight: 0, maxBatch: 0, maxDelayMs: 0 },
  queueDepths: noLanes(),
  counts: Object.fromEntries(NODE_STATES.map((s) => [s, 0])) as Record<NodeState, number>,
  nodes: [],
};

/** The scheduler core running in its own thread; see the module comment. */
export class SchedulerHost {
  readonly #worker: Worker;
  readonly #logger: Logger;
  readonly #metrics: MetricsSink | undefined;
  readonly #onAdmit: ((model: string, cost: number) => void) | undefined;
  readonly #pending = new Map<number, Pending>();
  #seq = 0;
  #snapshot: CoreSnapshot = EMPTY_SNAPSHOT;
  #exited = false;
  #closing: Promise<void> | undefined;
  readonly #exitedPromise: Promise<number>;
  /** The bound endpoints. */
  readonly endpoints: SchedulerEndpoints;

  private constructor(worker: Worker, endpoints: SchedulerEndpoints, opts: SchedulerHostOptions, exited: Promise<number>) {
    this.#worker = worker;
    this.endpoints = endpoints;
    this.#logger = opts.logger ?? silentLogger;
    this.#metrics = opts.metrics;
    this.#onAdmit = opts.onAdmit;
    this.#exitedPromise = exited;
  }

  /** Starts the core thread and waits until both ROUTERs are bound. */
  static async start(opts: SchedulerHostOptions): Promise<SchedulerHost> {
    const logger = opts.logger ?? silentLogger;
    const data: CoreThreadData = {
      workerEndpoint: opts.workerEndpoint,
      clientEndpoint: opts.clientEndpoint,
      scheduler: opts.scheduler,
      recordAdmits: opts.onAdmit !== undefined,
      tickMs: opts.tickMs ?? 250,
    };
    const worker = new Worker(new URL(RUNNING_TS ? './core-thread-dev.mjs' : './core-thread.js', import.meta.url), { workerData: data, name: 'scheduler-core' });
    // Messages that arrive before the host object exists are replayed into it.
    const ref: { host?: SchedulerHost } = {};
    const early: CoreEvent[] = [];
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const endpoints = await new Promise<SchedulerEndpoints>((resolve, reject) => {
      worker.on('message', (e: CoreEvent) => {
        if (ref.host) return ref.host.#onEvent(e);
        if (e.t === 'started') resolve(e.endpoints);
        else if (e.t === 'startFailed') reject(new Error(e.message));
        else if (e.t === 'log') logAt(logger, e);
        else early.push(e);
      });
      worker.once('error', reject);
      void exited.then((code) => reject(new Error(`scheduler core thread exited (${code}) before it started`)));
    });
    const host = new SchedulerHost(worker, endpoints, opts, exited);
    ref.host = host;
    for (const e of early) host.#onEvent(e);
    worker.on('error', (err) => logger.error({ err }, 'scheduler core thread failed'));
    void exited.then(() => host.#onExit());
    return host;
  }

  /** Settles with the thread's exit code when it has stopped (after `close()`, or on a crash). */
  get exited(): Promise<number> {
    return this.#exitedPromise;
  }

  #onEvent(e: CoreEvent): void {
    switch (e.t) {
      case 'reply': {
        const p = this.#pending.get(e.id);
        if (!p) return;
        this.#pending.delete(e.id);
        if (e.error) p.reject(e.error.code ? new YoloscaleError(e.error.code as ErrorCodeT, e.error.message) : new Error(e.error.message));
        else p.resolve(e.value);
        return;
      }
      case 'tick':
        if (this.#metrics) applyMetricsDelta(this.#metrics, e.metrics);
        if (this.#onAdmit) for (const [model, cost] of e.admitted) this.#onAdmit(model, cost);
        this.#snapshot = e.snapshot;
        return;
      case 'log':
        logAt(this.#logger, e);
        return;
      default:
    }
  }

  #onExit(): void {
    this.#exited = true;
    for (const p of this.#pending.values()) p.reject(new YoloscaleError(ErrorCode.noCapacity, 'the scheduler core has stopped'));
    this.#pending.clear();
  }

  #request<T>(r: CoreRequestBody): Promise<T> {
    if (this.#exited) return Promise.reject(new YoloscaleError(ErrorCode.noCapacity, 'the scheduler core has stopped'));
    const id = ++this.#seq;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#worker.postMessage({ ...r, id });
    });
  }

  /** Every node, for `GET /v1/nodes`. */
  nodes(): Promise<NodeView[]> {
    return this.#request({ op: 'nodes' });
  }

  /** One node, or undefined. */
  node(id: string): Promise<NodeView | undefined> {
    return this.#request({ op: 'node', nodeId: id });
  }

  /** Applies an admin action; rejects with `not_found` / `conflict`. */
  act(id: string, action: NodeAction): Promise<NodeView> {
    return this.#request({ op: 'act', nodeId: id, action });
  }

  /** Queue depths, for `GET /v1/queue`. */
  queue(): Promise<QueueView> {
    return this.#request({ op: 'queue' });
  }

  /** Brings metrics and the snapshot up to date (before a scrape). */
  async flush(): Promise<void> {
    if (!this.#exited) await this.#request({ op: 'flush' });
  }

  /** Frames waiting in one lane, as of the last tick. */
  queueDepth(lane: Lane): number {
    return this.#snapshot.queueDepths[lane];
  }

  /** Nodes by state, as of the last tick. */
  counts(): Record<NodeState, number> {
    return this.#snapshot.counts;
  }

  /**
   * The registry calls the autoscaler makes (`schedulerClusterPort`): reads
   * come from the last tick, writes go to the core thread in order and are
   * seen by the next tick, which each write asks for at once.
   */
  readonly registry = {
    list: (): readonly NodeSummary[] => this.#snapshot.nodes,
    expect: (id: string, type: string | null, nowEpochMs: number): void => this.#write({ op: 'expect', nodeId: id, type, nowEpochMs }),
    booting: (id: string, nowEpochMs: number): void => this.#write({ op: 'booting', nodeId: id, nowEpochMs }),
    fail: (id: string, nowEpochMs: number): void => this.#write({ op: 'fail', nodeId: id, nowEpochMs }),
  };

  /** Queue depths as of the last tick (the autoscaler's queued tokens). */
  queueNow(): QueueView {
    return this.#snapshot.queue;
  }

  #write(r: CoreRequestBody): void {
    this.#request(r)
      .then(() => this.flush())
      .catch((err: unknown) => this.#logger.warn({ err, op: r.op }, 'scheduler core request failed'));
  }

  /**
   * A drill: makes the core thread fail as an uncaught exception would. It
   * logs the error, closes its sockets and exits with code 1; requests in
   * flight fail with `no_capacity`. Resolves with the exit code.
   */
  async crash(): Promise<number> {
    if (!this.#exited) await this.#request({ op: 'crash' });
    return this.#exitedPromise;
  }

  /** Closes the scheduler (queued frames are answered `no_capacity`) and stops the thread. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (!this.#exited) {
        await this.#request({ op: 'close' }).catch((err: unknown) => this.#logger.warn({ err }, 'scheduler core close failed'));
        // A thread that cannot even close its sockets is stuck: terminating it with sockets open aborts the process (zeromq.js), which at least ends it.
        const timer = setTimeout(() => {
          this.#logger.error({}, 'scheduler core thread did not stop within 2 s: terminating it, which aborts the process while its sockets are open');
          void this.#worker.terminate();
        }, 2_000);
        await this.#exitedPromise;
        clearTimeout(timer);
      }
    })();
    return this.#closing;
  }
}

function logAt(logger: Logger, e: Extract<CoreEvent, { t: 'log' }>): void {
  if (e.msg === undefined) logger[e.level](e.obj);
  else logger[e.level](e.obj, e.msg);
}
