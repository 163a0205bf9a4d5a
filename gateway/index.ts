// Public surface of gateway/: the app, the process entry and the backend seam.
export { buildApp } from './app.js';
export type { GatewayAppOptions, GatewayLimits } from './app.js';
export { REDACT_PATHS, createGatewayLogger, runGateway } from './main.js';
export type { RunGatewayOptions, RunningGateway } from './main.js';
export type { BackendFrame, BackendModelInfo, BackendReadiness, DetectionBackend } from './backend.js';
export type { AdmissionLedger } from './admission.js';
export { GatewayMetrics } from './metrics.js';
export { StreamSession } from './stream-session.js';
export type { FrameOutcome, StreamFrame, StreamSessionOptions, StreamSessionStats, StreamSink } from './stream-session.js';
export { CloseCode } from './routes/stream.js';
export { annotateImage, classColour } from './annotate.js';
export type { AnnotateOptions } from './annotate.js';
