// Public surface of protocol/: message types, codec, socket owners, shared contracts.
export { DEFAULT_DETECT_PARAMS } from './detection.js';
export type { Box, Detection, DetectionResult, DetectParams, Lane, ResolvedDetectParams, Timing, TokensInfo } from './detection.js';
export { ErrorCode, YoloscaleError, isYoloscaleError, toYoloscaleError } from './errors.js';
export type { YoloscaleErrorOptions } from './errors.js';
export { createLogger, silentLogger } from './logger.js';
export type { Logger } from './logger.js';
