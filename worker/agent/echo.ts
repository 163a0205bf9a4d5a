/**
 * The `echo` pseudo-model (SPEC.md §3): answers at once with no
 * detections, for measuring the cluster without inference cost.
 */
import { ErrorCode, orientedSize, probeImageHeader, toYoloscaleError } from '../../protocol/index.js';
import type { FrameOutcome, ModelInfo } from '../../protocol/index.js';

/** Id of the echo model. */
export const ECHO_MODEL = 'echo';

/** How the echo model is listed. */
export const ECHO_MODEL_INFO: ModelInfo = Object.freeze({
  id: ECHO_MODEL,
  tokensPerFrame: 1,
  description: 'Echo: answers at once with no detections (cluster measurements)',
}) as ModelInfo;

/**
 * Answers one frame: its image size read from the header, no detections.
 * An image whose header cannot be read gets `bad_image`, like a real model.
 */
export function echoOutcome(id: number, image: Uint8Array): FrameOutcome {
  try {
    const size = orientedSize(probeImageHeader(image));
    return { id, result: { model: ECHO_MODEL, image: size, detections: [], timing: { queueMs: 0, inferMs: 0, totalMs: 0 } } };
  } catch (err) {
    const e = toYoloscaleError(err);
    return { id, error: { code: e.code === ErrorCode.internal ? ErrorCode.badImage : e.code, message: e.message } };
  }
}
