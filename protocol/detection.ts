/**
 * The detection result contract of SPEC.md §3, shared by the engine, the
 * cluster messages, the gateway and the CLI's `--json` output.
 */

/** Axis-aligned box in original-image pixels. */
export interface Box {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** One detected object. `classId` is the model's class index (COCO order for built-ins). */
export interface Detection {
  class: string;
  classId: number;
  score: number;
  box: Box;
}

/** Per-frame timings in milliseconds. */
export interface Timing {
  queueMs: number;
  inferMs: number;
  totalMs: number;
}

/** Lane a frame was served in (SPEC.md §8). */
export type Lane = 'realtime' | 'standard' | 'best-effort';

/** Token accounting attached by the gateway; absent where no ledger is involved. */
export interface TokensInfo {
  charged: number;
  remaining: number;
  lane: Lane;
}

/** A whole detection answer for one image (SPEC.md §3). */
export interface DetectionResult {
  model: string;
  image: { width: number; height: number };
  detections: Detection[];
  timing: Timing;
  tokens?: TokensInfo;
}

/**
 * Post-processing parameters. `classes` holds class ids or names; the engine
 * resolves names against the model's class list.
 */
export interface DetectParams {
  conf?: number;
  iou?: number;
  classes?: Array<number | string>;
  maxDet?: number;
  /** Class-agnostic NMS (one box per place whatever the class). */
  agnostic?: boolean;
}

/** Frozen defaults of SPEC.md §3. */
export const DEFAULT_DETECT_PARAMS = Object.freeze({ conf: 0.25, iou: 0.45, maxDet: 100, agnostic: false });

/** Fully resolved parameters as the engine uses them. */
export interface ResolvedDetectParams {
  conf: number;
  iou: number;
  /** Allowed class ids, or null for all. */
  classIds: number[] | null;
  maxDet: number;
  agnostic: boolean;
}
