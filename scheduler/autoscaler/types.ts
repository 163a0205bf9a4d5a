/**
 * Shared vocabulary of the autoscaler: node states (SPEC.md §6), planner
 * actions, and the node-provider contract (SPEC.md §9, Ray autoscaler v2 style).
 */

/** Node lifecycle of SPEC.md §6: `provisioning → booting → ready ⇄ cordoned → draining → retired`, and `failed`. */
export const NodeState = Object.freeze({
  provisioning: 'provisioning',
  booting: 'booting',
  ready: 'ready',
  cordoned: 'cordoned',
  draining: 'draining',
  retired: 'retired',
  failed: 'failed',
} as const);

/** Union of {@link NodeState} values. */
export type NodeState = (typeof NodeState)[keyof typeof NodeState];

/** Every node state, in lifecycle order (used for `yoloscale_nodes{state}` and `GET /v1/pool`). */
export const NODE_STATES: readonly NodeState[] = Object.freeze([
  'provisioning',
  'booting',
  'ready',
  'cordoned',
  'draining',
  'retired',
  'failed',
]);

/** Kinds of planner action. */
export const ActionKind = Object.freeze({ launch: 'launch', drain: 'drain', retire: 'retire' } as const);

/** Union of {@link ActionKind} values. */
export type ActionKind = (typeof ActionKind)[keyof typeof ActionKind];

/** Start `count` nodes of `type`. */
export interface LaunchAction {
  kind: 'launch';
  type: string;
  count: number;
  reason: string;
}

/** Stop dispatching new work to node `id`; it finishes what it has in flight. */
export interface DrainAction {
  kind: 'drain';
  id: string;
  reason: string;
}

/** Terminate node `id` (only ever planned for a drained node with nothing in flight, or a failed one). */
export interface RetireAction {
  kind: 'retire';
  id: string;
  reason: string;
}

/** One planner decision; every action carries the reason it was taken. */
export type Action = LaunchAction | DrainAction | RetireAction;

/** Lifecycle of one provider instance (the machine or process, not the registered worker). */
export type InstanceStatus = 'pending' | 'running' | 'terminating' | 'terminated' | 'failed';

/** One instance as a provider reports it from `list()`. */
export interface ProviderInstance {
  /** Stable id; a worker started on it registers with the scheduler under this id (`YOLOSCALE_NODE_ID`). */
  id: string;
  /** Node type (a key of the provider's node types, e.g. `cpu-small`, `gpu`). */
  type: string;
  status: InstanceStatus;
  /** The launch request that created it. */
  requestId: string;
  /** Where it runs (host name, pid, BMC system id…), for operators. */
  address?: string;
  /** Epoch ms when the launch was requested. */
  launchedAtMs: number;
}

/** A launch or terminate failure, returned as data by {@link NodeProvider.pollErrors}. */
export interface ProviderError {
  requestId: string;
  /** `launch` or `terminate`. */
  op: 'launch' | 'terminate';
  /** Stable machine-readable cause (`ssh_unreachable`, `bmc_refused`, `command_failed`, `spawn_failed`, `no_host`…). */
  code: string;
  message: string;
  /** Instance or host the error concerns, when known. */
  id?: string;
  type?: string;
  atMs: number;
}

/**
 * The node-provider interface of SPEC.md §9 (Ray autoscaler v2 style).
 * Calls never throw for provider-side failures: they are recorded and
 * returned by {@link NodeProvider.pollErrors}. Launch and terminate are
 * idempotent per request id: repeating a request id does nothing new.
 */
export interface NodeProvider {
  /** Provider name (`local`, `ssh`, `redfish`, `command`). */
  readonly name: string;
  /** Seconds from launch to a ready worker, as configured (the forecast horizon uses it). */
  readonly leadTimeS: number;
  /** Node types it can launch, when it knows them (the first is the autoscaler's default). */
  readonly types?: readonly string[];
  /** Current instances (terminated ones may be listed for a while). */
  list(): Promise<ProviderInstance[]>;
  /** Requests `count` new instances of `type`; returns the ids of the instances this request owns. */
  launch(type: string, count: number, requestId: string): Promise<string[]>;
  /** Requests termination of `ids`. */
  terminate(ids: string[], requestId: string): Promise<void>;
  /** Errors since the last call (each returned once). */
  pollErrors(): ProviderError[];
  /** Stops background work and releases what the provider holds (child processes stay stopped). */
  close(): Promise<void>;
}
