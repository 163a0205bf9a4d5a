import { randomUUID } from 'node:crypto';
import { Gauge } from 'prom-client';
import type { Registry as MetricsRegistry } from 'prom-client';
import { ErrorCode, YoloscaleError, silentLogger } from '../../protocol/index.js';
import type { Logger } from '../../protocol/index.js';
import { CapacityModel } from './capacity.js';
import { Forecaster } from './forecaster.js';
import type { Forecast, ForecasterOptions } from './forecaster.js';
import { emptyPlannerMemory, plan, validatePlannerConfig } from './planner.js';
import type { PlanResult, PlannerConfig, PlannerMemory, PlannerNode } from './planner.js';
import { NODE_STATES } from './types.js';
import type { Action, NodeProvider, NodeState, ProviderInstance } from './types.js';

/**
 * The reconcile loop of SPEC.md §9 (Ray autoscaler v2 style): every
 * `intervalS` it observes the cluster and the provider, plans with the pure
 * {@link plan}, and applies the actions through the provider and the
 * cluster. Every decision is logged with its reason and kept in a ring
 * served by `GET /v1/pool`; the forecast is served by `GET /v1/pool/forecast`
 * and exported as `yoloscale_forecast_tokens_per_second{model}`.
 *
 * The scheduler wires it through a {@link ClusterPort} (its registry) and
 * feeds demand with {@link Autoscaler.recordTokens} for each admitted frame.
 */

/** One node as the cluster's registry reports it. */
export interface ClusterNode {
  id: string;
  type: string | null;
  state: NodeState;
  /** Frames in flight on the node. */
  inFlight: number;
  /** Frames the node accepts in flight at most. */
  slots: number;
  /** Epoch ms of the last state change, where known. */
  stateSinceMs?: number;
}

/**
 * What the autoscaler needs from the scheduler (its registry and dispatcher).
 * Every method is synchronous and must not throw for unknown ids.
 */
export interface ClusterPort {
  /** Every node the registry knows, including `provisioning` ones recorded through `expect`. */
  nodes(): ClusterNode[];
  /** Tokens waiting in the queues (0 when unknown). */
  queueTokens(): number;
  /** Records a node being launched (`provisioning`). */
  expect(id: string, type: string): void;
  /** The node's machine is up; its worker has not registered yet (`booting`). */
  booting(id: string): void;
  /** The node's launch failed (`failed`). */
  fail(id: string): void;
  /** Stops dispatching to the node; it finishes its in-flight frames (`draining`). */
  drain(id: string): void;
  /** Retires the node (it has nothing in flight); its agent is told to stop (`retired`). */
  retire(id: string): void;
}

/** A logged decision: a planner action, a provider error or an operator change. */
export interface Decision {
  at: string;
  kind: Action['kind'] | 'error' | 'pool';
  /** Node id, for drain, retire and node errors. */
  id?: string;
  type?: string;
  count?: number;
  requestId?: string;
  reason: string;
}

/** Options of {@link Autoscaler}. */
export interface AutoscalerOptions {
  provider: NodeProvider;
  cluster: ClusterPort;
  /** Warm nodes kept (default 1) and nodes never exceeded (default 8). */
  min?: number;
  max?: number;
  /** Type of node launched (default: the provider's first type, else `'default'`). */
  nodeType?: string;
  /** Busy fraction the pool is sized for (default 0.8). */
  targetUtilisation?: number;
  /** Surplus must last this long before a node is drained (default 300 s). */
  idleTimeoutS?: number;
  /** Minimum time between scale events before scaling down (default 60 s). */
  cooldownS?: number;
  /** Planning interval (default 15 s). */
  intervalS?: number;
  /** Queued tokens should be worked off within this many seconds (default 30). */
  queueDrainS?: number;
  /** A launch not ready after this long is retired and replaced (default: 4 × lead time + 60 s). */
  bootTimeoutS?: number;
  /** Prior tokens/s per node until capacity is learned (default 50), per type optionally. */
  capacityPriorTokensPerS?: number;
  capacityPriors?: Record<string, number>;
  /** Utilisation sampling period (default 1,000 ms). */
  sampleMs?: number;
  forecaster?: ForecasterOptions;
  /** Decisions kept for `GET /v1/pool` (default 200). */
  decisionsKept?: number;
  /** Registry for `yoloscale_forecast_tokens_per_second` (and `yoloscale_nodes` when the registry has none yet). */
  metricsRegistry?: MetricsRegistry;
  logger?: Logger;
  /** Clock (epoch ms); injectable for tests. */
  now?: () => number;
}

/** `GET /v1/pool`. */
export interface PoolView {
  provider: string;
  leadTimeS: number;
  intervalS: number;
  min: number;
  max: number;
  nodeType: string;
  targetUtilisation: number;
  idleTimeoutS: number;
  cooldownS: number;
  nodes: Record<NodeState, number>;
  /** Learned tokens/s per node, per type. */
  capacity: Record<string, number>;
  /** Capacity needed at the last plan, tokens/s (with headroom). */
  needTokensPerS: number;
  decisions: Decision[];
}

/** `GET /v1/pool/forecast`. */
export interface ForecastView {
  at: string;
  horizonS: number;
  method: string;
  /** Total tokens/s: last bucket, point forecast and upper bound per bucket of the horizon. */
  total: { last: number; peakPoint: number; peakUpper: number; buckets: { start: string; point: number; upper: number }[] };
  models: Record<string, { method: string; last: number; peakPoint: number; peakUpper: number }>;
}

function nonNegInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`options.${name} must be a non-negative integer`);
  return v;
}

const round = (n: number): number => Math.round(n * 1000) / 1000;

/** The reconcile loop. */
export class Autoscaler {
  readonly #provider: NodeProvider;
  readonly #cluster: ClusterPort;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #intervalS: number;
  readonly #sampleMs: number;
  readonly #keep: number;
  #config: PlannerConfig;
  readonly #forecaster: Forecaster;
  readonly #capacity: CapacityModel;
  #memory: PlannerMemory = emptyPlannerMemory();
  #lastPlan: PlanResult | undefined;
  #lastForecast: Forecast | undefined;
  readonly #decisions: Decision[] = [];
  /** Tokens recorded since the last reconcile (throughput for capacity learning). */
  #tokensSince = 0;
  #lastReconcileMs: number;
  /** Utilisation samples per node type since the last reconcile. */
  #utilSamples = new Map<string, { sum: number; n: number; nodes: number }>();
  readonly #idleSince = new Map<string, number>();
  /** Provider instances created by this autoscaler or listed by the provider. */
  #known = new Map<string, ProviderInstance>();
  #timer: NodeJS.Timeout | undefined;
  #sampler: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #seq = 0;

  constructor(o: AutoscalerOptions) {
    if (!o || !o.provider || typeof o.provider.launch !== 'function') throw new RangeError('options.provider must be a NodeProvider');
    if (!o.cluster || typeof o.cluster.nodes !== 'function') throw new RangeError('options.cluster must be a ClusterPort');
    this.#provider = o.provider;
    this.#cluster = o.cluster;
    this.#log = (o.logger ?? silentLogger).child({ component: 'autoscaler' });
    this.#now = o.now ?? Date.now;
    const intervalS = o.intervalS ?? 15;
    if (!(Number.isFinite(intervalS) && intervalS > 0)) throw new RangeError('options.intervalS must be a positive number');
    this.#intervalS = intervalS;
    this.#sampleMs = nonNegInt('sampleMs', o.sampleMs ?? 1000);
    this.#keep = nonNegInt('decisionsKept', o.decisionsKept ?? 200);
    const nodeType = o.nodeType ?? o.provider.types?.[0] ?? 'default';
    this.#config = validatePlannerConfig({
      min: o.min ?? 1,
      max: o.max ?? 8,
      nodeType,
      targetUtilisation: o.targetUtilisation ?? 0.8,
      idleTimeoutS: o.idleTimeoutS ?? 300,
      cooldownS: o.cooldownS ?? 60,
      queueDrainS: o.queueDrainS ?? 30,
      bootTimeoutS: o.bootTimeoutS ?? 4 * o.provider.leadTimeS + 60,
    });
    this.#forecaster = new Forecaster(o.forecaster);
    this.#capacity = new CapacityModel({ defaultTokensPerS: o.capacityPriorTokensPerS ?? 50, priors: o.capacityPriors });
    this.#lastReconcileMs = this.#now();
    if (o.metricsRegistry) this.#registerMetrics(o.metricsRegistry);
  }

  #registerMetrics(registry: MetricsRegistry): void {
    const lastForecast = (): Forecast | undefined => this.#lastForecast;
    const counts = (): Record<NodeState, number> => this.#counts();
    new Gauge({
      name: 'yoloscale_forecast_tokens_per_second',
      help: 'Forecast tokens/s per model over the provider lead time plus one planning interval (peak point forecast)',
      labelNames: ['model'],
      registers: [registry],
      collect() {
        const f = lastForecast();
        if (!f) return;
        for (const [model, s] of Object.entries(f.models)) this.set({ model }, s.peakPoint);
      },
    });
    // The scheduler's own metrics already export yoloscale_nodes from its registry; never register it twice.
    if (!registry.getSingleMetric('yoloscale_nodes')) {
      new Gauge({
        name: 'yoloscale_nodes',
        help: 'Worker nodes by state',
        labelNames: ['state'],
        registers: [registry],
        collect() {
          const c = counts();
          for (const state of NODE_STATES) this.set({ state }, c[state]);
        },
      });
    }
  }

  /** Adds the tokens of an admitted frame to the demand series of `model`. */
  recordTokens(model: string, tokens: number, atMs: number = this.#now()): void {
    if (!Number.isFinite(tokens) || tokens <= 0) return;
    this.#forecaster.record(model, tokens, atMs);
    this.#tokensSince += tokens;
  }

  /** Starts the loop (a reconcile now and every `intervalS`, utilisation sampled every `sampleMs`). */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      void this.#tick();
    }, this.#intervalS * 1000);
    if (this.#sampleMs > 0) this.#sampler = setInterval(() => this.sample(), this.#sampleMs);
    void this.#tick(); // the first plan at once: `min` warm nodes should not wait an interval
  }

  async #tick(): Promise<void> {
    if (this.#running) return; // a slow provider call: skip this tick rather than overlap
    try {
      await this.reconcile();
    } catch (err) {
      this.#log.error({ err }, 'reconcile failed');
    }
  }

  /** Stops the loop and waits for a reconcile in progress. The provider is not closed. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    clearInterval(this.#sampler);
    this.#timer = undefined;
    this.#sampler = undefined;
    await this.#running;
  }

  /** Samples utilisation and idleness of the nodes (called every `sampleMs` by the loop). */
  sample(): void {
    const now = this.#now();
    const byType = new Map<string, { sum: number; nodes: number }>();
    for (const n of this.#cluster.nodes()) {
      if (n.inFlight > 0) this.#idleSince.delete(n.id);
      else if (!this.#idleSince.has(n.id)) this.#idleSince.set(n.id, now);
      if (n.state !== 'ready' || n.slots <= 0) continue;
      const t = n.type ?? this.#config.nodeType;
      const e = byType.get(t) ?? { sum: 0, nodes: 0 };
      e.sum += Math.min(1, n.inFlight / n.slots);
      e.nodes += 1;
      byType.set(t, e);
    }
    for (const [t, e] of byType) {
      const acc = this.#utilSamples.get(t) ?? { sum: 0, n: 0, nodes: 0 };
      acc.sum += e.sum / e.nodes;
      acc.n += 1;
      acc.nodes = e.nodes;
      this.#utilSamples.set(t, acc);
    }
  }

  /** One observe → plan → apply step; returns the plan. */
  reconcile(): Promise<PlanResult> {
    const run = this.#reconcile();
    const done = run.then(
      () => undefined,
      () => undefined,
    );
    this.#running = done;
    void done.finally(() => {
      if (this.#running === done) this.#running = undefined;
    });
    return run;
  }

  async #reconcile(): Promise<PlanResult> {
    const now = this.#now();
    this.sample();
    this.#forecaster.advance(now);

    // Observe the provider: instances and errors.
    const instances = await this.#provider.list();
    for (const i of instances) this.#known.set(i.id, i);
    for (const e of this.#provider.pollErrors()) {
      this.#decide({ kind: 'error', id: e.id, type: e.type, requestId: e.requestId, reason: `${e.op} ${e.code}: ${e.message}` });
    }
    for (const i of instances) {
      if (i.status === 'running') this.#cluster.booting(i.id);
      else if (i.status === 'failed') this.#cluster.fail(i.id);
    }

    // Observe the cluster.
    const nodes = this.#cluster.nodes();
    const elapsedS = Math.max(1e-3, (now - this.#lastReconcileMs) / 1000);
    const servedPerS = this.#tokensSince / elapsedS;
    this.#learnCapacity(servedPerS);
    this.#tokensSince = 0;
    this.#lastReconcileMs = now;
    const readyUtil = this.#meanUtilisation();
    this.#utilSamples = new Map();

    const horizonS = this.#provider.leadTimeS + this.#intervalS;
    const forecast = this.#forecaster.forecast(now, horizonS);
    this.#lastForecast = forecast;
    const capacity: Record<string, number> = { [this.#config.nodeType]: this.#capacity.get(this.#config.nodeType) };
    for (const n of nodes) if (n.type) capacity[n.type] = this.#capacity.get(n.type);
    const plannerNodes: PlannerNode[] = nodes.map((n) => ({
      id: n.id,
      type: n.type ?? this.#config.nodeType,
      state: n.state,
      inFlight: n.inFlight,
      idleSinceMs: n.inFlight > 0 ? undefined : this.#idleSince.get(n.id),
      stateSinceMs: n.stateSinceMs,
    }));
    const result = plan(
      {
        nowMs: now,
        nodes: plannerNodes,
        demandTokensPerS: servedPerS,
        queueTokens: this.#cluster.queueTokens(),
        utilisation: readyUtil,
        capacity,
        forecastUpperTokensPerS: forecast.total.method === 'none' ? 0 : forecast.total.peakUpper,
        memory: this.#memory,
      },
      this.#config,
    );
    this.#memory = result.memory;
    this.#lastPlan = result;
    for (const a of result.actions) await this.#apply(a, now);
    return result;
  }

  #learnCapacity(servedPerS: number): void {
    let busyNodes = 0;
    for (const acc of this.#utilSamples.values()) busyNodes += (acc.sum / Math.max(1, acc.n)) * acc.nodes;
    if (busyNodes <= 0) return;
    for (const [type, acc] of this.#utilSamples) {
      const util = acc.sum / Math.max(1, acc.n);
      const share = (util * acc.nodes) / busyNodes;
      this.#capacity.observe({ type, tokensPerS: (servedPerS * share) / Math.max(1, acc.nodes), utilisation: util });
    }
  }

  #meanUtilisation(): number {
    let sum = 0;
    let nodes = 0;
    for (const acc of this.#utilSamples.values()) {
      sum += (acc.sum / Math.max(1, acc.n)) * acc.nodes;
      nodes += acc.nodes;
    }
    return nodes > 0 ? sum / nodes : 0;
  }

  async #apply(a: Action, now: number): Promise<void> {
    if (a.kind === 'launch') {
      const requestId = `launch-${now.toString(36)}-${++this.#seq}`;
      const ids = await this.#provider.launch(a.type, a.count, requestId);
      for (const id of ids) {
        this.#cluster.expect(id, a.type);
        this.#known.set(id, { id, type: a.type, status: 'pending', requestId, launchedAtMs: now });
      }
      this.#decide({ kind: 'launch', type: a.type, count: a.count, requestId, reason: `${a.reason} → ${ids.length ? ids.join(', ') : 'nothing launched'}` });
      return;
    }
    if (a.kind === 'drain') {
      this.#cluster.drain(a.id);
      this.#decide({ kind: 'drain', id: a.id, reason: a.reason });
      return;
    }
    this.#cluster.retire(a.id);
    const requestId = `retire-${a.id}`;
    const inst = this.#known.get(a.id);
    if (inst && inst.status !== 'terminated') await this.#provider.terminate([a.id], requestId);
    this.#decide({ kind: 'retire', id: a.id, requestId: inst ? requestId : undefined, reason: inst ? a.reason : `${a.reason} (not a provider node)` });
  }

  #decide(d: Omit<Decision, 'at'>): void {
    const entry: Decision = { at: new Date(this.#now()).toISOString(), ...d };
    for (const k of Object.keys(entry) as (keyof Decision)[]) if (entry[k] === undefined) delete entry[k];
    this.#decisions.push(entry);
    if (this.#decisions.length > this.#keep) this.#decisions.splice(0, this.#decisions.length - this.#keep);
    const line = `autoscaler ${d.kind}${d.id ? ` ${d.id}` : ''}${d.count ? ` ×${d.count}` : ''}: ${d.reason}`;
    if (d.kind === 'error') this.#log.warn(entry, line);
    else this.#log.info(entry, line);
  }

  #counts(): Record<NodeState, number> {
    const out = Object.fromEntries(NODE_STATES.map((s) => [s, 0])) as Record<NodeState, number>;
    for (const n of this.#cluster.nodes()) out[n.state] += 1;
    return out;
  }

  /** Recent decisions, oldest first. */
  decisions(): Decision[] {
    return this.#decisions.map((d) => ({ ...d }));
  }

  /** `GET /v1/pool`. */
  pool(): PoolView {
    const c = this.#config;
    const capacity: Record<string, number> = { [c.nodeType]: round(this.#capacity.get(c.nodeType)) };
    for (const [t, e] of Object.entries(this.#capacity.snapshot())) capacity[t] = round(e.tokensPerS);
    return {
      provider: this.#provider.name,
      leadTimeS: this.#provider.leadTimeS,
      intervalS: this.#intervalS,
      min: c.min,
      max: c.max,
      nodeType: c.nodeType,
      targetUtilisation: c.targetUtilisation,
      idleTimeoutS: c.idleTimeoutS,
      cooldownS: c.cooldownS,
      nodes: this.#counts(),
      capacity,
      needTokensPerS: round(this.#lastPlan?.needTokensPerS ?? 0),
      decisions: this.decisions(),
    };
  }

  /** `PUT /v1/pool`: changes `min` and/or `max`; `bad_request` when inconsistent. */
  setPool(change: { min?: number; max?: number }): PoolView {
    const next = { ...this.#config, min: change.min ?? this.#config.min, max: change.max ?? this.#config.max };
    try {
      validatePlannerConfig(next);
    } catch (err) {
      throw new YoloscaleError(ErrorCode.badRequest, (err as Error).message.replace(/^config\./, ''));
    }
    this.#config = next;
    this.#decide({ kind: 'pool', reason: `operator set min ${next.min}, max ${next.max}` });
    return this.pool();
  }

  /** `GET /v1/pool/forecast` (computed now). */
  forecast(): ForecastView {
    const now = this.#now();
    this.#forecaster.advance(now);
    const f = this.#forecaster.forecast(now, this.#provider.leadTimeS + this.#intervalS);
    this.#lastForecast = f;
    const models: ForecastView['models'] = {};
    for (const [m, s] of Object.entries(f.models)) {
      models[m] = { method: s.method, last: round(s.last), peakPoint: round(s.peakPoint), peakUpper: round(s.peakUpper) };
    }
    return {
      at: new Date(now).toISOString(),
      horizonS: f.horizonS,
      method: f.total.method,
      total: {
        last: round(f.total.last),
        peakPoint: round(f.total.peakPoint),
        peakUpper: round(f.total.peakUpper),
        buckets: f.total.bucketStartMs.map((s, i) => ({ start: new Date(s).toISOString(), point: round(f.total.point[i]), upper: round(f.total.upper[i]) })),
      },
      models,
    };
  }

  /**
   * After an operator's retire (the node is already `retired` in the
   * registry): terminates the node's instance through the provider and
   * reports what the provider did. Not one of the provider's instances →
   * nothing to terminate (`terminated: false`, no request).
   */
  async terminate(id: string, reason: string): Promise<{ provider: string; requestId?: string; terminated: boolean; errors: string[] }> {
    const inst = this.#known.get(id);
    if (!inst) {
      this.#decide({ kind: 'retire', id, reason: `${reason} (not a provider node)` });
      return { provider: this.#provider.name, terminated: false, errors: [] };
    }
    const requestId = `retire-${id}`;
    if (inst.status !== 'terminated') await this.#provider.terminate([id], requestId);
    const errors = this.#provider.pollErrors();
    for (const e of errors) this.#decide({ kind: 'error', id: e.id, type: e.type, requestId: e.requestId, reason: `${e.op} ${e.code}: ${e.message}` });
    const mine = errors.filter((e) => e.id === id || e.requestId === requestId);
    this.#decide({ kind: 'retire', id, requestId, reason });
    return { provider: this.#provider.name, requestId, terminated: mine.length === 0, errors: mine.map((e) => `${e.code}: ${e.message}`) };
  }

  /** Stops the loop and closes the provider (the local provider stops its workers; remote hosts keep running). */
  async close(): Promise<void> {
    await this.stop();
    await this.#provider.close();
  }

  /** `POST /v1/nodes/provision`: an operator's launch, outside the planner (still bounded by `max`). */
  async provision(type: string, count: number, requestId: string = randomUUID()): Promise<{ provider: string; requestId: string; ids: string[]; errors: string[] }> {
    if (typeof type !== 'string' || type === '') throw new YoloscaleError(ErrorCode.badRequest, 'type must be a non-empty string');
    if (!Number.isInteger(count) || count < 1) throw new YoloscaleError(ErrorCode.badRequest, 'count must be a positive integer');
    const held = this.#cluster.nodes().filter((n) => n.state !== 'retired' && n.state !== 'failed').length;
    if (held + count > this.#config.max) {
      throw new YoloscaleError(ErrorCode.conflict, `pool max is ${this.#config.max}; ${held} nodes held, ${count} more requested`);
    }
    const now = this.#now();
    const ids = await this.#provider.launch(type, count, requestId);
    for (const id of ids) {
      this.#cluster.expect(id, type);
      this.#known.set(id, { id, type, status: 'pending', requestId, launchedAtMs: now });
    }
    const errors = this.#provider.pollErrors();
    for (const e of errors) this.#decide({ kind: 'error', id: e.id, type: e.type, requestId: e.requestId, reason: `${e.op} ${e.code}: ${e.message}` });
    this.#decide({ kind: 'launch', type, count, requestId, reason: `operator provision → ${ids.length ? ids.join(', ') : 'nothing launched'}` });
    if (ids.length === 0 && errors.length > 0) {
      throw new YoloscaleError(ErrorCode.noCapacity, `provider ${this.#provider.name} launched nothing: ${errors[0].code}: ${errors[0].message}`);
    }
    const mine = errors.filter((e) => e.requestId === requestId);
    return { provider: this.#provider.name, requestId, ids, errors: mine.map((e) => `${e.id ? `${e.id}: ` : ''}${e.code}: ${e.message}`) };
  }
}
