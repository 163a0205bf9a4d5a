import type { Action, NodeState } from './types.js';

/**
 * The planner of SPEC.md §9: a pure function from observed state and forecast
 * to actions. Scale up at once (pending and booting nodes count toward the
 * capacity being built), keep `min` warm nodes, never exceed `max`; scale
 * down only once the capacity needed has stayed below what is running for
 * `idleTimeoutS` (the highest need over that window is kept, as the HPA's
 * stabilisation window does) and `cooldownS` has passed since the last scale
 * event; always drain before retiring, and never retire a node with work in
 * flight. Memory between calls travels in the state and comes back in the
 * result, so the function itself keeps nothing.
 */

/** One node as the planner sees it. */
export interface PlannerNode {
  id: string;
  type: string;
  state: NodeState;
  /** Frames in flight on the node. */
  inFlight: number;
  /** Epoch ms since when the node has had nothing in flight; undefined while busy. */
  idleSinceMs?: number | undefined;
  /** Epoch ms of the node's last state change, where known (stuck launches are detected with it). */
  stateSinceMs?: number | undefined;
}

/** What the planner remembers between calls (returned by {@link plan}, passed back in the next state). */
export interface PlannerMemory {
  /** Capacity needed (tokens/s) at each recent planning time, newest last. */
  needs: { atMs: number; tokensPerS: number }[];
  lastScaleUpMs?: number | undefined;
  lastScaleDownMs?: number | undefined;
  /** First planning time: no scale-down before the idle timeout has been observed once. */
  sinceMs?: number | undefined;
}

/** An empty {@link PlannerMemory}. */
export function emptyPlannerMemory(): PlannerMemory {
  return { needs: [] };
}

/** Observed state handed to {@link plan}. */
export interface PlannerState {
  nowMs: number;
  nodes: readonly PlannerNode[];
  /** Tokens/s admitted over the last observation interval. */
  demandTokensPerS: number;
  /** Tokens waiting in the queues. */
  queueTokens: number;
  /** Mean busy fraction of ready nodes over the last interval, 0–1. */
  utilisation: number;
  /** Learned tokens/s of one node, per node type. */
  capacity: Readonly<Record<string, number>>;
  /** Upper bound of the forecast over the horizon, tokens/s (0 when there is none: purely reactive). */
  forecastUpperTokensPerS: number;
  memory: PlannerMemory;
}

/** Planner settings. */
export interface PlannerConfig {
  /** Warm nodes kept at all times. */
  min: number;
  /** Nodes never exceeded (every node not retired or failed counts). */
  max: number;
  /** Type of node to launch. */
  nodeType: string;
  /** Busy fraction the pool is sized for (0–1], e.g. 0.8. */
  targetUtilisation: number;
  /** The need must stay below the running capacity this long before a node is drained. */
  idleTimeoutS: number;
  /** Minimum time after any scale event before scaling down. */
  cooldownS: number;
  /** Queued tokens should be worked off within this many seconds (adds capacity). */
  queueDrainS: number;
  /**
   * A node still provisioning or booting after this long is given up
   * (retired and replaced); 0 disables. Default: no limit.
   */
  bootTimeoutS?: number;
}

/** Result of {@link plan}. */
export interface PlanResult {
  actions: Action[];
  /** Capacity needed now, tokens/s (including the target-utilisation headroom). */
  needTokensPerS: number;
  /** Highest need over the stabilisation window (what scale-down respects). */
  stableNeedTokensPerS: number;
  /** Nodes the pool is heading for (ready, booting and provisioning after the actions). */
  targetNodes: number;
  memory: PlannerMemory;
}

/** States whose nodes are, or are becoming, serving capacity. */
const ACTIVE: ReadonlySet<NodeState> = new Set<NodeState>(['provisioning', 'booting', 'ready']);
/** States that still hold a machine (count toward `max`). */
const HELD: ReadonlySet<NodeState> = new Set<NodeState>(['provisioning', 'booting', 'ready', 'cordoned', 'draining']);

/** Checks a {@link PlannerConfig}; throws a RangeError naming the bad field. */
export function validatePlannerConfig(c: PlannerConfig): PlannerConfig {
  if (!Number.isInteger(c.min) || c.min < 0) throw new RangeError('config.min must be a non-negative integer');
  if (!Number.isInteger(c.max) || c.max < 1) throw new RangeError('config.max must be a positive integer');
  if (c.max < c.min) throw new RangeError('config.max must be at least config.min');
  if (typeof c.nodeType !== 'string' || c.nodeType === '') throw new RangeError('config.nodeType must be a non-empty string');
  if (!(c.targetUtilisation > 0 && c.targetUtilisation <= 1)) throw new RangeError('config.targetUtilisation must be in (0, 1]');
  for (const k of ['idleTimeoutS', 'cooldownS', 'queueDrainS'] as const) {
    if (!Number.isFinite(c[k]) || c[k] < 0) throw new RangeError(`config.${k} must be a non-negative number`);
  }
  if (c.bootTimeoutS !== undefined && (!Number.isFinite(c.bootTimeoutS) || c.bootTimeoutS < 0)) {
    throw new RangeError('config.bootTimeoutS must be a non-negative number');
  }
  return c;
}

const fmt = (n: number): string => (Math.round(n * 10) / 10).toString();

/**
 * Plans launch, drain and retire actions for one reconcile step. Pure:
 * the same state and config always give the same result.
 */
export function plan(state: PlannerState, config: PlannerConfig): PlanResult {
  const c = config;
  const now = state.nowMs;
  const capOf = (type: string): number => Math.max(1e-9, state.capacity[type] ?? state.capacity[c.nodeType] ?? 1);
  const launchCap = capOf(c.nodeType);
  const actions: Action[] = [];

  // Launches that never came up are given up: retired (nothing runs on them) and no longer counted.
  const bootLimitMs = (c.bootTimeoutS ?? 0) * 1000;
  const stuck = new Set(
    bootLimitMs > 0
      ? state.nodes
          .filter((n) => (n.state === 'provisioning' || n.state === 'booting') && n.stateSinceMs !== undefined && now - n.stateSinceMs > bootLimitMs)
          .map((n) => n.id)
      : [],
  );
  const active = state.nodes.filter((n) => ACTIVE.has(n.state) && !stuck.has(n.id));
  const ready = active.filter((n) => n.state === 'ready');
  const held = state.nodes.filter((n) => HELD.has(n.state) && !stuck.has(n.id)).length;
  const activeCap = active.reduce((s, n) => s + capOf(n.type), 0);
  const readyCap = ready.reduce((s, n) => s + capOf(n.type), 0);

  // Capacity needed: forecast upper bound, current demand plus backlog, and (when capacity
  // estimates run high) what the measured utilisation says, all at the target utilisation.
  const observed = state.demandTokensPerS + (c.queueDrainS > 0 ? state.queueTokens / c.queueDrainS : 0);
  const byUtil = readyCap * Math.max(0, state.utilisation);
  const rawNeed = Math.max(state.forecastUpperTokensPerS, observed, byUtil);
  const need = rawNeed / c.targetUtilisation;
  const why =
    rawNeed === state.forecastUpperTokensPerS && rawNeed > 0
      ? `forecast upper bound ${fmt(rawNeed)} tok/s`
      : rawNeed === observed
        ? `demand ${fmt(state.demandTokensPerS)} tok/s + queue ${fmt(state.queueTokens)} tok`
        : `utilisation ${fmt(state.utilisation * 100)}%`;

  const windowStart = now - c.idleTimeoutS * 1000;
  const needs = [...state.memory.needs.filter((r) => r.atMs > windowStart && r.atMs <= now), { atMs: now, tokensPerS: need }];
  const stableNeed = Math.max(...needs.map((r) => r.tokensPerS));
  const memory: PlannerMemory = {
    needs,
    lastScaleUpMs: state.memory.lastScaleUpMs,
    lastScaleDownMs: state.memory.lastScaleDownMs,
    sinceMs: state.memory.sinceMs ?? now,
  };

  // 1. Retire: drained nodes with nothing in flight, failed nodes, launches that never came up.
  for (const n of state.nodes) {
    if (n.inFlight > 0) continue;
    if (stuck.has(n.id)) {
      actions.push({ kind: 'retire', id: n.id, reason: `still ${n.state} after the ${c.bootTimeoutS}s boot timeout: given up` });
      continue;
    }
    if (n.state === 'draining') actions.push({ kind: 'retire', id: n.id, reason: 'drained: nothing in flight' });
    else if (n.state === 'failed') actions.push({ kind: 'retire', id: n.id, reason: 'failed node released' });
  }

  // 2. Scale up at once: capacity being built (provisioning, booting) counts.
  const room = Math.max(0, c.max - held);
  let launch = 0;
  let reason = '';
  if (active.length < c.min) {
    launch = c.min - active.length;
    reason = `keep min ${c.min} warm nodes (have ${active.length})`;
  }
  const shortfall = need - (activeCap + launch * launchCap);
  if (shortfall > 1e-9) {
    const more = Math.ceil(shortfall / launchCap - 1e-9);
    launch += more;
    reason = `${reason ? `${reason}; ` : ''}need ${fmt(need)} tok/s (${why} at ${fmt(c.targetUtilisation * 100)}% target), have ${fmt(activeCap)} tok/s in ${active.length} nodes`;
  }
  if (launch > room) {
    if (room === 0 && launch > 0) reason = '';
    else reason += `; capped by max ${c.max}`;
    launch = room;
  }
  if (launch > 0) {
    actions.push({ kind: 'launch', type: c.nodeType, count: launch, reason });
    memory.lastScaleUpMs = now;
    return { actions, needTokensPerS: need, stableNeedTokensPerS: stableNeed, targetNodes: active.length + launch, memory };
  }

  // 3. Scale down: the stable need (highest over the idle timeout) is below what runs, after a cooldown.
  let targetNodes = active.length;
  const lastEvent = Math.max(memory.lastScaleUpMs ?? -Infinity, memory.lastScaleDownMs ?? -Infinity);
  const watchedLongEnough = now - (memory.sinceMs ?? now) >= c.idleTimeoutS * 1000;
  const cooled = now - lastEvent >= c.cooldownS * 1000;
  if (cooled && watchedLongEnough && active.length > c.min) {
    // Idle longest first, then least in flight; provisioning/booting nodes are left to come up.
    const candidates = [...ready].sort(
      (a, b) =>
        (a.idleSinceMs ?? Infinity) - (b.idleSinceMs ?? Infinity) || a.inFlight - b.inFlight || (a.id < b.id ? -1 : 1),
    );
    let cap = activeCap;
    let count = active.length;
    for (const n of candidates) {
      if (count - 1 < c.min) break;
      const after = cap - capOf(n.type);
      if (after < stableNeed) break;
      actions.push({
        kind: 'drain',
        id: n.id,
        reason: `surplus for ${c.idleTimeoutS}s: need at most ${fmt(stableNeed)} tok/s, ${fmt(after)} tok/s remain without it`,
      });
      cap = after;
      count -= 1;
    }
    if (count < active.length) memory.lastScaleDownMs = now;
    targetNodes = count;
  }
  return { actions, needTokensPerS: need, stableNeedTokensPerS: stableNeed, targetNodes, memory };
}
