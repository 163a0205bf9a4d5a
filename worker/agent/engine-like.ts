/**
 * What the node agent needs from a detection engine. The real engine
 * (worker/engine) is adapted to it; echo-only nodes run without one.
 */
import type { DetectionResult, DetectParams, ModelInfo, YoloscaleError } from '../../protocol/index.js';

/** One frame of a batch handed to the engine. */
export interface EngineItem {
  /** Encoded image bytes. */
  image: Uint8Array;
  params?: DetectParams;
}

/** The engine as the agent uses it. */
export interface EngineLike {
  /** Device the engine runs on (`cpu`, `cuda`). */
  readonly device: string;
  /** Batches the engine runs at once (its thread pool size). */
  readonly threads: number;
  /** Runs frames of one model; one result or typed error per frame, in order. Rejects only when the whole batch cannot run. */
  detectBatch(modelId: string, items: EngineItem[]): Promise<Array<DetectionResult | YoloscaleError>>;
  /** Models the engine can serve (present in the model directory). */
  listModels(): Promise<ModelInfo[]>;
  /** Model ids loaded now. */
  loadedModels(): string[];
  close(): Promise<void>;
}
