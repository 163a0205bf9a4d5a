/**
 * Worker registry: node records, their states (SPEC.md §6), liveness and
 * slot accounting. Pure: the caller passes the clock and does the I/O.
 *
 * States: `provisioning → booting → ready ⇄ cordoned → draining → retired`,
 * and `failed` (silent past the heartbeat timeout, or a failed launch).
 */
import { ErrorCode, YoloscaleError } from '../protocol/index.js';
import type { ModelInfo, RegisterMessage } from '../protocol/index.js';

// Node states of SPEC.md §6 are defined once, with the autoscaler's vocabulary.
import { NODE_STATES, NodeState } from './autoscaler/types.js';
export { NODE_STATES, NodeState };

/** One node as the scheduler tracks it. Mutable by the registry only. */
export interface NodeRecord {
  id: string;
  state: NodeState;
  /** ZeroMQ routing identity of the node's agent; null before it connected. */
  peer: Buffer | null;
  /** Node type (autoscaler), where known. */
  type: string | null;
  device: string;
  threads: number;
  /** Frames the node accepts in flight at most. */
  slots: number;
  /** Frames the scheduler has in flight on the node. */
  inFlight: number;
  /** Batches the scheduler has in flight on the node. */
  batches: number;
  loaded: Set<string>;
  models: ModelInfo[];
  host: string;
  pid: number;
  /** Epoch ms of the registration. */
  registeredAt: number;
  /** Epoch ms of the last state change. */
  stateSince: number;
  /** Clock value (ms, monotonic) of the last message from the node. */
  lastSeen: number;
  /** Frames the node completed. */
  framesDone: number;
  /** The node asked to drain itself (SIGTERM): it leaves once drained. */
  selfDrain: boolean;
  /** Retire as soon as nothing is in flight. */
  retireWhenDrained: boolean;
}

/** JSON view of a node for the admin API. */
export interface NodeView {
  id: string;
  state: NodeState;
  type: string | null;
  device: string;
  threads: number;
  slots: number;
  inFlight: number;
  loaded: string[];
  models: string[];
  host: string;
  pid: number;
  registeredAt: string;
  stateSince: string;
  lastSeenMsAgo: number;
  framesDone: number;
}

/** Admin transitions. */
export type NodeAction = 'cordon' | 'uncordon' | 'drain' | 'retire';

/** The registry of nodes. */
export class Registry {
  readonly #nodes = new Map<string, NodeRecord>();
  readonly #byPeer = new Map<string, NodeRecord>();

  /** Every node, in registration order. */
  list(): NodeRecord[] {
    return [...this.#nodes.values()];
  }

  /** A node by id. */
  get(id: string): NodeRecord | undefined {
    return this.#nodes.get(id);
  }

  /** The node connected through a routing identity. */
  byPeer(peer: Buffer): NodeRecord | undefined {
    return this.#byPeer.get(peer.toString('latin1'));
  }

  /** Records a node the autoscaler is launching (`provisioning`). */
  expect(id: string, type: string | null, nowEpochMs: number): NodeRecord {
    const existing = this.#nodes.get(id);
    if (existing) return existing;
    const node = blank(id, NodeState.provisioning, nowEpochMs);
    node.type = type;
    this.#nodes.set(id, node);
    return node;
  }

  /** Moves an expected node to `booting` (its machine is up, the agent not yet registered). */
  booting(id: string, nowEpochMs: number): void {
    const node = this.#nodes.get(id);
    if (node && node.state === NodeState.provisioning) setState(node, NodeState.booting, nowEpochMs);
  }

  /** Marks a node `failed` (e.g. its launch failed). */
  fail(id: string, nowEpochMs: number): NodeRecord | undefined {
    const node = this.#nodes.get(id);
    if (node && node.state !== NodeState.retired) this.#down(node, NodeState.failed, nowEpochMs);
    return node;
  }

  /**
   * Registers (or re-registers) an agent. A node id seen before keeps its
   * record; cordoned stays cordoned, draining stays draining. A different
   * connection for a known id replaces the old one: the caller re-queues the
   * old connection's in-flight frames first (see {@link Registry.reset}).
   */
  register(peer: Buffer, msg: RegisterMessage, now: number, nowEpochMs: number): NodeRecord {
    let node = this.#nodes.get(msg.nodeId);
    const key = peer.toString('latin1');
    const other = this.#byPeer.get(key);
    if (other && other.id !== msg.nodeId) this.#byPeer.delete(key);
    if (!node) {
      node = blank(msg.nodeId, NodeState.ready, nowEpochMs);
      this.#nodes.set(node.id, node);
    }
    if (node.peer) this.#byPeer.delete(node.peer.toString('latin1'));
    node.peer = peer;
    this.#byPeer.set(key, node);
    node.device = msg.device;
    node.threads = msg.threads;
    node.slots = msg.slots;
    node.loaded = new Set(msg.loaded);
    node.models = msg.models;
    node.host = msg.host;
    node.pid = msg.pid;
    node.lastSeen = now;
    node.registeredAt = nowEpochMs;
    if (msg.draining) {
      node.selfDrain = true;
      if (node.state !== NodeState.draining) setState(node, NodeState.draining, nowEpochMs);
    } else if (node.state !== NodeState.cordoned && node.state !== NodeState.draining) {
      node.retireWhenDrained = false;
      setState(node, NodeState.ready, nowEpochMs);
    }
    return node;
  }

  /** Forgets a node's in-flight accounting (its frames were re-queued). */
  reset(node: NodeRecord): void {
    node.inFlight = 0;
    node.batches = 0;
  }

  /** Notes a message from a node (liveness). */
  touch(node: NodeRecord, now: number): void {
    node.lastSeen = now;
  }

  /**
   * Declares nodes silent for longer than `silentMs` dead (`failed`) and
   * returns them; the caller re-queues their in-flight frames. Their slot
   * accounting is reset.
   */
  expire(now: number, silentMs: number, nowEpochMs: number): NodeRecord[] {
    const dead: NodeRecord[] = [];
    for (const node of this.#nodes.values()) {
      if (!node.peer || !isLive(node.state)) continue;
      if (now - node.lastSeen > silentMs) {
        this.#down(node, NodeState.failed, nowEpochMs);
        dead.push(node);
      }
    }
    return dead;
  }

  /**
   * Applies an admin action. Throws `not_found` for an unknown node and
   * `conflict` for a transition the state machine does not allow.
   * Returns true when the node is now retired and its agent should stop.
   */
  apply(id: string, action: NodeAction, nowEpochMs: number): boolean {
    const node = this.#nodes.get(id);
    if (!node) throw new YoloscaleError(ErrorCode.notFound, `no node "${id}"`);
    const s = node.state;
    const conflict = () => new YoloscaleError(ErrorCode.conflict, `cannot ${action} node "${id}" in state ${s}`);
    switch (action) {
      case 'cordon':
        if (s === NodeState.cordoned) return false;
        if (s !== NodeState.ready) throw conflict();
        setState(node, NodeState.cordoned, nowEpochMs);
        return false;
      case 'uncordon':
        if (s === NodeState.ready) return false;
        if (s !== NodeState.cordoned) throw conflict();
        setState(node, NodeState.ready, nowEpochMs);
        return false;
      case 'drain':
        if (s === NodeState.draining) return false;
        if (s !== NodeState.ready && s !== NodeState.cordoned) throw conflict();
        setState(node, NodeState.draining, nowEpochMs);
        return false;
      case 'retire':
        if (s === NodeState.retired) return false;
        if (s === NodeState.provisioning || s === NodeState.booting || s === NodeState.failed) {
          this.#down(node, NodeState.retired, nowEpochMs);
          return true;
        }
        node.retireWhenDrained = true;
        if (s !== NodeState.draining) setState(node, NodeState.draining, nowEpochMs);
        return this.settle(node, nowEpochMs);
    }
  }

  /**
   * Retires a draining node once nothing is in flight when it was told to
   * retire or drained itself. Returns true when it just retired.
   */
  settle(node: NodeRecord, nowEpochMs: number): boolean {
    if (node.state !== NodeState.draining || node.inFlight > 0) return false;
    if (!node.retireWhenDrained && !node.selfDrain) return false;
    this.#down(node, NodeState.retired, nowEpochMs);
    return true;
  }

  /** The agent says it drains itself (SIGTERM). */
  selfDrain(node: NodeRecord, nowEpochMs: number): void {
    node.selfDrain = true;
    if (node.state === NodeState.ready || node.state === NodeState.cordoned) setState(node, NodeState.draining, nowEpochMs);
  }

  /** Forgets retired and failed nodes whose state is older than `keepMs`, keeping the list short. */
  prune(nowEpochMs: number, keepMs: number): void {
    for (const node of this.#nodes.values()) {
      if ((node.state === NodeState.retired || node.state === NodeState.failed) && nowEpochMs - node.stateSince > keepMs) this.#nodes.delete(node.id);
    }
  }

  /** Node count per state (every state present, zeros included). */
  counts(): Record<NodeState, number> {
    const out = Object.fromEntries(NODE_STATES.map((s) => [s, 0])) as Record<NodeState, number>;
    for (const node of this.#nodes.values()) out[node.state]++;
    return out;
  }

  /** Nodes in state `ready`. */
  ready(): NodeRecord[] {
    return this.list().filter((n) => n.state === NodeState.ready);
  }

  #down(node: NodeRecord, state: NodeState, nowEpochMs: number): void {
    setState(node, state, nowEpochMs);
    if (node.peer) this.#byPeer.delete(node.peer.toString('latin1'));
    node.peer = null;
    node.inFlight = 0;
    node.batches = 0;
  }
}

function isLive(s: NodeState): boolean {
  return s === NodeState.ready || s === NodeState.cordoned || s === NodeState.draining;
}

function setState(node: NodeRecord, state: NodeState, nowEpochMs: number): void {
  if (node.state === state) return;
  node.state = state;
  node.stateSince = nowEpochMs;
}

function blank(id: string, state: NodeState, nowEpochMs: number): NodeRecord {
  return {
    id,
    state,
    peer: null,
    type: null,
    device: '',
    threads: 1,
    slots: 0,
    inFlight: 0,
    batches: 0,
    loaded: new Set(),
    models: [],
    host: '',
    pid: 0,
    registeredAt: nowEpochMs,
    stateSince: nowEpochMs,
    lastSeen: 0,
    framesDone: 0,
    selfDrain: false,
    retireWhenDrained: false,
  };
}

/** Serves `model`? */
export function offers(node: NodeRecord, model: string): boolean {
  return node.models.some((m) => m.id === model);
}

/**
 * Placement (SPEC.md §8): among `ready` nodes offering the model with a free
 * slot, prefer nodes with the model loaded, then the fewest frames in
 * flight, then the most free slots. Never cordoned, draining or dead nodes.
 * Returns the node and how many of `size` frames it can take, or null.
 */
export function place(nodes: Iterable<NodeRecord>, model: string, size: number): { node: NodeRecord; take: number } | null {
  let best: NodeRecord | null = null;
  for (const n of nodes) {
    if (n.state !== NodeState.ready || !n.peer || n.slots - n.inFlight <= 0 || !offers(n, model)) continue;
    if (!best || better(n, best, model)) best = n;
  }
  if (!best) return null;
  return { node: best, take: Math.min(size, best.slots - best.inFlight) };
}

function better(a: NodeRecord, b: NodeRecord, model: string): boolean {
  const la = a.loaded.has(model);
  const lb = b.loaded.has(model);
  if (la !== lb) return la;
  if (a.inFlight !== b.inFlight) return a.inFlight < b.inFlight;
  return a.slots - a.inFlight > b.slots - b.inFlight;
}

/** The admin API's view of a node. */
export function nodeView(node: NodeRecord, now: number): NodeView {
  return {
    id: node.id,
    state: node.state,
    type: node.type,
    device: node.device,
    threads: node.threads,
    slots: node.slots,
    inFlight: node.inFlight,
    loaded: [...node.loaded],
    models: node.models.map((m) => m.id),
    host: node.host,
    pid: node.pid,
    registeredAt: new Date(node.registeredAt).toISOString(),
    stateSince: new Date(node.stateSince).toISOString(),
    lastSeenMsAgo: node.lastSeen === 0 ? -1 : Math.max(0, Math.round(now - node.lastSeen)),
    framesDone: node.framesDone,
  };
}
