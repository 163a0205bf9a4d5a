/**
 * Messages between the {@link Engine} and its pool threads. Plain data only
 * (structured clone); tensors and image bytes travel as transferred
 * ArrayBuffers.
 */
import type { Detection, ErrorCode } from '../../protocol/index.js';
import type { LetterboxSpec } from '../image/letterbox-spec.js';
import type { ExecutionProvider } from './ort.js';
import type { ModelFamily } from './models.js';
import type { EngineResolvedParams } from './params.js';
import type { LetterboxGeometry } from './postprocess.js';

/** What a thread needs to open and run a model. */
export interface ThreadModel {
  id: string;
  /** Absolute path of the ONNX file. */
  path: string;
  family: ModelFamily;
  input: LetterboxSpec;
  classNames: readonly string[];
}

/** Data every pool thread starts with (`workerData`). */
export interface ThreadInit {
  provider: ExecutionProvider;
  /** onnxruntime intra-op threads per session (0 = onnxruntime's default). */
  intraOpNumThreads: number;
}

/** Prepare, infer, decode one encoded image. */
export interface DetectTask {
  kind: 'detect';
  model: ThreadModel;
  image: Uint8Array;
  params: EngineResolvedParams;
  /** Epoch milliseconds (performance.timeOrigin + now) when the caller submitted the frame. */
  submittedAt: number;
}

/** Prepare one encoded image into a tensor and send it back. */
export interface PrepareTask {
  kind: 'prepare';
  model: ThreadModel;
  image: Uint8Array;
}

/** Run a stacked batch of prepared tensors and decode each image. */
export interface InferTask {
  kind: 'infer';
  model: ThreadModel;
  input: Float32Array | Uint16Array;
  items: Array<{ geometry: LetterboxGeometry; params: EngineResolvedParams }>;
}

/** Run prepared tensors `repeat` times without decoding (benchmarks). */
export interface RawTask {
  kind: 'raw';
  model: ThreadModel;
  input: Float32Array | Uint16Array;
  batch: number;
  repeat: number;
}

/**
 * Open a model on this thread. `barrier` makes every thread take exactly one
 * of `parties` load tasks: each waits until all have arrived.
 */
export interface LoadTask {
  kind: 'load';
  model: ThreadModel;
  barrier: Int32Array;
  parties: number;
}

/** Any task a pool thread accepts. */
export type ThreadTask = DetectTask | PrepareTask | InferTask | RawTask | LoadTask;

/** A typed error as data (errors lose their class crossing threads). */
export interface ThreadError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

/** The reply to a {@link DetectTask}. */
export type DetectReply =
  | {
      ok: true;
      image: { width: number; height: number };
      detections: Detection[];
      startedAt: number;
      inferMs: number;
      finishedAt: number;
    }
  | { ok: false; error: ThreadError };

/** The reply to a {@link PrepareTask}. */
export type PrepareReply =
  | { ok: true; data: Float32Array | Uint16Array; geometry: LetterboxGeometry; startedAt: number }
  | { ok: false; error: ThreadError };

/** The reply to an {@link InferTask}: detections per item, in order. */
export type InferReply =
  | { ok: true; detections: Detection[][]; inferMs: number; finishedAt: number }
  | { ok: false; error: ThreadError };

/** The reply to a {@link RawTask}: milliseconds of each `session.run`. */
export type RawReply = { ok: true; runMs: number[] } | { ok: false; error: ThreadError };

/** The reply to a {@link LoadTask}. */
export type LoadReply =
  | { ok: true; provider: ExecutionProvider; inputDims: Array<number | string>; threadId: number }
  | { ok: false; error: ThreadError };
