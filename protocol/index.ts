// Public surface of protocol/: message types, codec, socket owners, shared contracts.
export { DEFAULT_DETECT_PARAMS } from './detection.js';
export type { Box, Detection, DetectionResult, DetectParams, Lane, ResolvedDetectParams, Timing, TokensInfo } from './detection.js';
export { ErrorCode, YoloscaleError, isYoloscaleError, toYoloscaleError } from './errors.js';
export type { YoloscaleErrorOptions } from './errors.js';
export { createLogger, silentLogger } from './logger.js';
export type { Logger } from './logger.js';
export {
  MAX_IMAGE_BYTES,
  MAX_IMAGE_PIXELS,
  checkImageLimits,
  orientationSwapsAxes,
  orientedSize,
  probeImageHeader,
} from './image-header.js';
export type { ImageFormat, ImageHeader } from './image-header.js';
export { MessageKind, PROTOCOL_VERSION, imageCount } from './messages.js';
export type {
  BatchFrame,
  BatchMessage,
  DrainMessage,
  DrainedMessage,
  FrameError,
  FrameOutcome,
  HeartbeatMessage,
  Message,
  MessageOf,
  ModelInfo,
  PingMessage,
  RegisterMessage,
  RegisteredMessage,
  ReregisterMessage,
  ReplyMessage,
  ReplyOutcome,
  ResultMessage,
  RetireMessage,
  StatusMessage,
  SubmitError,
  SubmitFrameHeader,
  SubmitMessage,
} from './messages.js';
export { DropReason, decodeMessage, encodeMessage } from './codec.js';
export type { Decoded, Refused } from './codec.js';
export { DealerSocket, FramePipe, RouterSocket, closeAllSockets, curveKeyPair, isCurveKey } from './zmq.js';
export { IdTable } from './id-table.js';
export { DEFAULT_SCAVENGE_MB, collectYoung, scavengePacing } from './young-gc.js';
export type {
  CurveClientOptions,
  CurveKeyPair,
  CurveServerOptions,
  DealerHandler,
  DealerSocketOptions,
  FramePipeOptions,
  MessageSocketOptions,
  PipeStats,
  PipeType,
  RouterHandler,
  RouterSocketOptions,
} from './zmq.js';
export { SchedulerClient } from './scheduler-client.js';
export type { SchedulerClientOptions, SchedulerReadiness, SubmitFrame } from './scheduler-client.js';
