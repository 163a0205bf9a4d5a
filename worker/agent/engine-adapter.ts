/**
 * Adapts the detection engine of worker/engine to {@link EngineLike}: the
 * agent offers every catalog model whose file is present, and preloads the
 * default model so the first frames do not pay for loading it.
 */
import { existsSync } from 'node:fs';
import type { Logger, ModelInfo } from '../../protocol/index.js';
import { silentLogger } from '../../protocol/index.js';
import { DEFAULT_MODEL_ID, Engine, allModels, modelPath } from '../engine/index.js';
import type { EngineLike } from './engine-like.js';

/** Options of {@link createEngine}. */
export interface CreateEngineOptions {
  modelsDir: string;
  device: 'auto' | 'cuda' | 'cpu';
  threads?: number;
  /** Models to load at start (default: the default model when its file is present). */
  preload?: string[];
  logger?: Logger;
}

/** Creates the real engine behind the agent's {@link EngineLike} seam. */
export async function createEngine(opts: CreateEngineOptions): Promise<EngineLike> {
  const logger = opts.logger ?? silentLogger;
  const catalog = await allModels(opts.modelsDir);
  const present = catalog.filter((d) => existsSync(modelPath(opts.modelsDir, d)));
  const preload = opts.preload ?? present.filter((d) => d.id === DEFAULT_MODEL_ID).map((d) => d.id);
  const engine = await Engine.create({ modelsDir: opts.modelsDir, device: opts.device, threads: opts.threads, models: preload, logger });
  if (present.length === 0) logger.warn({ modelsDir: opts.modelsDir }, 'no model files found: this node offers no models (try `yoloscale models pull yolox-nano`)');
  return {
    get device() {
      return engine.device;
    },
    get threads() {
      return engine.threads;
    },
    detectBatch: (modelId, items) => engine.detectBatch(modelId, items),
    async listModels(): Promise<ModelInfo[]> {
      const all = await allModels(opts.modelsDir);
      return all
        .filter((d) => existsSync(modelPath(opts.modelsDir, d)))
        .map((d) => ({ id: d.id, tokensPerFrame: d.tokensPerFrame, inputSize: d.input.size, family: d.family, description: d.description, classNames: [...d.classNames] }));
    },
    loadedModels: () => engine.models().map((m) => m.id),
    close: () => engine.close(),
  };
}
