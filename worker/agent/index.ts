// Public surface of worker/agent/: the node agent and its process entry.
export { NodeAgent } from './agent.js';
export type { AgentDropReason, AgentState, NodeAgentOptions } from './agent.js';
export { ECHO_MODEL, ECHO_MODEL_INFO, echoOutcome } from './echo.js';
export { createEngine } from './engine-adapter.js';
export type { CreateEngineOptions } from './engine-adapter.js';
export type { EngineItem, EngineLike } from './engine-like.js';
export { runWorker } from './main.js';
export type { RunWorkerOptions, WorkerHandle } from './main.js';
