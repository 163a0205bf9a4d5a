/**
 * Messages between the scheduler process's main thread (admin API, metrics,
 * autoscaler: core-host.ts) and the thread that runs the scheduler core
 * (sockets, queues, registry: core-thread.ts). Structured-clone safe.
 */
import type { Lane } from '../protocol/index.js';
import type { MetricsDelta } from './metrics-sink.js';
import type { NodeState } from './registry.js';
import type { QueueView, SchedulerEndpoints, SchedulerOptions } from './scheduler.js';

/** The scheduler options that cross into the core thread (plain data: no logger, metrics or callbacks). */
export type CoreSchedulerOptions = Pick<SchedulerOptions, 'maxBatch' | 'maxDelayMs' | 'heartbeatMs' | 'deadAfterMs' | 'maxRequeues' | 'perTenantLimit' | 'scavengeEveryMb' | 'curve'>;

/** `workerData` of the core thread. */
export interface CoreThreadData {
  workerEndpoint: string;
  clientEndpoint: string;
  scheduler: CoreSchedulerOptions;
  /** Report admitted frames' costs (the autoscaler's demand series). */
  recordAdmits: boolean;
  /** Period of `tick` messages, ms. */
  tickMs: number;
}

/** A node as the autoscaler sees it (the registry's record, flattened). */
export interface NodeSummary {
  id: string;
  type: string | null;
  state: NodeState;
  inFlight: number;
  slots: number;
  stateSince: number;
}

/** What the main thread reads synchronously between ticks. */
export interface CoreSnapshot {
  queue: QueueView;
  queueDepths: Record<Lane, number>;
  counts: Record<NodeState, number>;
  nodes: NodeSummary[];
}

/** Requests of the main thread; each gets one `reply` with the same id. */
export type CoreRequest =
  | { id: number; op: 'nodes' }
  | { id: number; op: 'node'; nodeId: string }
  | { id: number; op: 'act'; nodeId: string; action: string }
  | { id: number; op: 'queue' }
  | { id: number; op: 'expect'; nodeId: string; type: string | null; nowEpochMs: number }
  | { id: number; op: 'booting'; nodeId: string; nowEpochMs: number }
  | { id: number; op: 'fail'; nodeId: string; nowEpochMs: number }
  /** Sends a `tick` now (before the reply). */
  | { id: number; op: 'flush' }
  | { id: number; op: 'close' }
  | { id: number; op: 'crash' };

/** Messages of the core thread. */
export type CoreEvent =
  | { t: 'started'; endpoints: SchedulerEndpoints }
  | { t: 'startFailed'; message: string }
  | { t: 'reply'; id: number; value?: unknown; error?: { code?: string; message: string } }
  | { t: 'tick'; metrics: MetricsDelta; admitted: Array<[string, number]>; snapshot: CoreSnapshot }
  | { t: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; obj: Record<string, unknown>; msg?: string };

/** A request before the host numbers it. */
export type CoreRequestBody = CoreRequest extends infer R ? (R extends CoreRequest ? Omit<R, 'id'> : never) : never;
