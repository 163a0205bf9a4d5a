/**
 * The seam between the gateway and whatever runs detections. The production
 * implementation is the `SchedulerClient` of protocol/ (frames go to the
 * scheduler over ZeroMQ); tests may plug in anything that really detects.
 */
import type { DetectionResult, ModelInfo, SchedulerReadiness, SubmitFrame } from '../protocol/index.js';

/** One frame handed to the backend, already authenticated, charged and probed: the scheduler client's frame. */
export type BackendFrame = SubmitFrame;

/** What the backend can serve right now (for `/readyz`): connected to the scheduler (or local), and workers ready. */
export type BackendReadiness = SchedulerReadiness;

/** One model the cluster offers (for `GET /v1/models`, cost and validation), as its workers register it. */
export type BackendModelInfo = ModelInfo;

/**
 * Anything that turns frames into detections. `submit` resolves with the
 * result or rejects with a `YoloscaleError` (`bad_image`, `deadline_exceeded`,
 * `overloaded`, `no_capacity`, …); the gateway refunds on rejection.
 */
export interface DetectionBackend {
  submit(frame: BackendFrame): Promise<DetectionResult>;
  ready(): BackendReadiness;
  /** The models the cluster can serve now, default model first. */
  models(): readonly BackendModelInfo[];
}
