/**
 * The seam between the gateway and whatever runs detections. The production
 * implementation is the `SchedulerClient` of protocol/ (frames go to the
 * scheduler over ZeroMQ); tests may plug in anything that really detects.
 */
import type { DetectionResult, DetectParams, Lane } from '../protocol/index.js';

/** One frame handed to the backend, already authenticated, charged and probed. */
export interface BackendFrame {
  /** Encoded image bytes (JPEG, PNG or WebP); the backend decodes them. */
  image: Uint8Array;
  /** Catalog model id. */
  model: string;
  params: DetectParams;
  /** Tenant id the frame is charged to. */
  tenant: string;
  /** Fair-share weight: the tenant's plan tokens per hour. */
  weight: number;
  /** Tokens this frame costs (0 in the best-effort lane). */
  cost: number;
  lane: Lane;
  /** Absolute deadline, epoch milliseconds; the frame is dropped after it. */
  deadlineMs: number;
  /** Unique id of this frame (used for refunds and logs). */
  frameId: string;
}

/** What the backend can serve right now (for `/readyz`). */
export interface BackendReadiness {
  /** True when connected to the scheduler (or the backend is local). */
  scheduler: boolean;
  /** Workers ready to take frames. */
  workers: number;
}

/** One model the cluster offers (for `GET /v1/models`, cost and validation). */
export interface BackendModelInfo {
  /** Catalog id, e.g. `yolox-nano`. */
  id: string;
  /** Tokens one frame of up to 1080p area costs (SPEC.md §7). */
  tokensPerFrame: number;
  /** Network input size in pixels (square), where known. */
  inputSize?: number;
  /** Output family, where known. */
  family?: string;
  /** One-line description, where known. */
  description?: string;
  /** Class names by id, where known. */
  classNames?: readonly string[];
}

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
