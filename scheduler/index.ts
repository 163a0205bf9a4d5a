// Public surface of scheduler/: the head node, its pure cores and its process entry.
export { BATCHER_DEFAULTS, MicroBatcher, checkBatcherOptions } from './batcher.js';
export type { Batch, MicroBatcherOptions } from './batcher.js';
export { FifoTenantQueue, LANE_ORDER, LaneQueues } from './lanes.js';
export type { LaneQueuesOptions, TenantQueue } from './lanes.js';
export { SchedulerMetrics, TokenRate } from './metrics.js';
export type { MetricsSources } from './metrics.js';
export { NODE_STATES, NodeState, Registry, nodeView, offers, place } from './registry.js';
export type { NodeAction, NodeRecord, NodeView } from './registry.js';
export { Scheduler } from './scheduler.js';
export type { Frame, QueueView, SchedulerEndpoints, SchedulerOptions } from './scheduler.js';
export { runScheduler } from './main.js';
export { SchedulerHost } from './core-host.js';
export type { SchedulerHostOptions } from './core-host.js';
export { MetricsRecorder, applyMetricsDelta } from './metrics-sink.js';
export type { MetricsDelta, MetricsSink } from './metrics-sink.js';
export type { RunSchedulerOptions, SchedulerHandle } from './main.js';
export { AuthFailureLimiter, bearerToken, buildAdminApp, nodesRoutes, tokenMatches } from './admin/index.js';
export type { AdminAppOptions, AdminPlugin, NodesAdmin, NodesRoutesOptions } from './admin/index.js';
export { FAIR_QUEUE_DEFAULTS, FairQueue } from './fair-queue.js';
export type { FairQueueEntry, FairQueueOptions } from './fair-queue.js';
export { tenantRoutes } from './admin/index.js';
export type { TenantRoutesOptions } from './admin/index.js';
// Autoscaler (forecaster, planner, reconcile loop, node providers, simulator): full surface in ./autoscaler/index.js.
export { Autoscaler, createProvider, poolRoutes, runSim, schedulerClusterPort } from './autoscaler/index.js';
export type { AutoscalerOptions, ClusterPort, NodeProvider, ProviderConfig, RunSimOptions, RunSimOutput } from './autoscaler/index.js';
// Tenant webhooks (issue #9): the outbox notifier and its signatures.
export { Notifier, SIGNATURE_HEADER, retryDelayMs, signWebhook, verifyWebhook, webhookPayload } from './notify/index.js';
export type { NotifierLedger, NotifierOptions } from './notify/index.js';
