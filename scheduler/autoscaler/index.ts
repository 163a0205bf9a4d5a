// Public surface of scheduler/autoscaler/: forecaster, planner, reconcile loop, node providers, simulator.
export { ActionKind, NODE_STATES, NodeState } from './types.js';
export type { Action, DrainAction, InstanceStatus, LaunchAction, NodeProvider, ProviderError, ProviderInstance, RetireAction } from './types.js';
export { Forecaster } from './forecaster.js';
export type { Forecast, ForecasterOptions, ForecastMethod, SeriesForecast } from './forecaster.js';
export {
  fitHolt,
  fitHoltWinters,
  holtForecast,
  holtInit,
  holtUpdate,
  holtWintersForecast,
  holtWintersRun,
  holtWintersUpdate,
} from './smoothing.js';
export type { HoltParams, HoltState, HoltWintersParams, HoltWintersState } from './smoothing.js';
export { CapacityModel } from './capacity.js';
export type { CapacityEstimate, CapacityModelOptions, CapacityObservation } from './capacity.js';
export { emptyPlannerMemory, plan, validatePlannerConfig } from './planner.js';
export type { PlanResult, PlannerConfig, PlannerMemory, PlannerNode, PlannerState } from './planner.js';
export { Autoscaler } from './reconciler.js';
export type { AutoscalerOptions, ClusterNode, ClusterPort, Decision, ForecastView, PoolView } from './reconciler.js';
export { schedulerClusterPort } from './cluster-port.js';
export type { RegistryLike, SchedulerClusterPortOptions, SchedulerLike } from './cluster-port.js';
export { poolRoutes } from './pool-routes.js';
export type { PoolRoutesOptions } from './pool-routes.js';
export { BUILTIN_TRACES, builtinTrace, parseTraceCsv } from './traces.js';
export type { DemandTrace } from './traces.js';
export { simulate } from './sim.js';
export type { SimPolicy, SimResult, SimSample, SimulateOptions } from './sim.js';
export { renderSimSvg } from './plot.js';
export { loadTrace, runSim } from './run-sim.js';
export type { RunSimOptions, RunSimOutput, SimSummary } from './run-sim.js';
export { LocalProvider } from './providers/local.js';
export type { LocalProviderOptions } from './providers/local.js';
export { SshProvider } from './providers/ssh.js';
export type { SshProviderOptions } from './providers/ssh.js';
export { RedfishProvider, RedfishSystem } from './providers/redfish.js';
export type { RedfishProviderOptions } from './providers/redfish.js';
export { CommandProvider } from './providers/command.js';
export type { CommandProviderOptions } from './providers/command.js';
export { HostPoolProvider, ProviderFailure } from './providers/host-pool.js';
export type { HostDriver, HostPoolProviderOptions } from './providers/host-pool.js';
export { DEFAULT_START_COMMAND, DEFAULT_STOP_COMMAND, InventorySchema, fillCommand, loadInventory, parseInventory } from './providers/inventory.js';
export type { Inventory, InventoryHost } from './providers/inventory.js';
export { createProvider } from './providers/factory.js';
export type { ProviderConfig } from './providers/factory.js';
