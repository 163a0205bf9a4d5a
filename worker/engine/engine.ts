/**
 * The detection engine every worker node runs (SPEC.md §3): a fixed pool of
 * threads, each owning one onnxruntime session per loaded model, fed with
 * encoded images and answering {@link DetectionResult}s.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { ErrorCode, YoloscaleError, checkImageLimits, orientedSize, silentLogger, toYoloscaleError } from '../../protocol/index.js';
import type { DetectionResult, Logger } from '../../protocol/index.js';
import { allModels, missingModelError, modelPath, unknownModelError } from './catalog.js';
import { ECHO_MODEL_ID } from './models.js';
import type { ModelDescriptor, ModelFamily } from './models.js';
import { DEVICE_REQUESTS, probeDevice } from './ort.js';
import type { DeviceRequest, ExecutionProvider } from './ort.js';
import { resolveParams } from './params.js';
import type { EngineDetectParams, EngineResolvedParams } from './params.js';
import { EnginePool } from './pool.js';
import type { ThreadError, ThreadModel } from './thread-messages.js';

/** Options of {@link Engine.create}. */
export interface EngineOptions {
  /** Directory holding the model files (and `models.json` for user models). */
  modelsDir: string;
  /** Execution provider request (default `auto`). */
  device?: DeviceRequest;
  /** Pool threads (default: the number of CPU cores). */
  threads?: number;
  /** onnxruntime intra-op threads per session (default 1: parallelism comes from the pool's threads). */
  intraOpNumThreads?: number;
  /** Models to load on every thread at start; others load on first use. */
  models?: string[];
  /** Offer the `echo` pseudo-model (SPEC.md §3). */
  echo?: boolean;
  /** Largest stacked batch for dynamic-batch models (default 16). */
  maxBatch?: number;
  /**
   * Frames one thread works on at once (default 1). With 2, a thread decodes
   * the next image while its session runs the current one.
   */
  tasksPerThread?: number;
  logger?: Logger;
}

/** Per-call options of {@link Engine.detect}. */
export interface DetectCallOptions {
  /**
   * Hand the image's ArrayBuffer to the engine instead of copying it: the
   * caller's buffer is detached afterwards. Only used when the view spans its
   * whole buffer.
   */
  transfer?: boolean;
}

/** One frame of {@link Engine.detectBatch}. */
export interface BatchItem {
  image: Uint8Array;
  params?: EngineDetectParams;
}

/** A model as the engine offers it. */
export interface EngineModelInfo {
  id: string;
  family: ModelFamily | 'echo';
  inputSize: number;
  tokensPerFrame: number;
  /** True when batches run as one stacked `session.run`. */
  dynamicBatch: boolean;
  classNames: readonly string[];
}

interface LoadedModel {
  descriptor: ModelDescriptor;
  thread: ThreadModel;
  dynamicBatch: boolean;
}

const ECHO_INFO: EngineModelInfo = Object.freeze({
  id: ECHO_MODEL_ID,
  family: 'echo',
  inputSize: 0,
  tokensPerFrame: 1,
  dynamicBatch: true,
  classNames: Object.freeze([]) as readonly string[],
});

function now(): number {
  return performance.timeOrigin + performance.now();
}

function fromThreadError(e: ThreadError): YoloscaleError {
  return new YoloscaleError(e.code, e.message, e.details ? { details: e.details } : {});
}

/** A copy of `bytes` in a buffer of its own, or `bytes` itself when it may be transferred. */
function ownBytes(bytes: Uint8Array, transfer: boolean): Uint8Array {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
  if (transfer && whole) return bytes;
  return new Uint8Array(bytes);
}

function checkBytes(bytes: unknown): asserts bytes is Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new YoloscaleError(ErrorCode.badRequest, 'image must be a Uint8Array of encoded image bytes');
}

function isDynamicDim(d: number | string | undefined): boolean {
  return typeof d !== 'number' || d < 1;
}

/**
 * The detection engine. Create with {@link Engine.create}; always
 * {@link Engine.close} it.
 */
export class Engine {
  #pool: EnginePool;
  #modelsDir: string;
  #device: ExecutionProvider;
  #deviceReason: string | null;
  #echo: boolean;
  #maxBatch: number;
  #logger: Logger;
  #catalog: ModelDescriptor[];
  #loaded = new Map<string, Promise<LoadedModel>>();
  #ready = new Map<string, LoadedModel>();
  #closed = false;

  private constructor(
    pool: EnginePool,
    modelsDir: string,
    device: ExecutionProvider,
    deviceReason: string | null,
    echo: boolean,
    maxBatch: number,
    logger: Logger,
    catalog: ModelDescriptor[],
  ) {
    this.#pool = pool;
    this.#modelsDir = modelsDir;
    this.#device = device;
    this.#deviceReason = deviceReason;
    this.#echo = echo;
    this.#maxBatch = maxBatch;
    this.#logger = logger;
    this.#catalog = catalog;
  }

  /**
   * Validates options, picks the execution provider (probing CUDA for
   * `auto`), starts the pool and loads `models` on every thread.
   * Throws `unknown_model` / `model_missing` for a bad `models` entry.
   */
  static async create(opts: EngineOptions): Promise<Engine> {
    if (!opts || typeof opts.modelsDir !== 'string' || opts.modelsDir === '') {
      throw new TypeError('options.modelsDir must be a non-empty string');
    }
    const device = opts.device ?? 'auto';
    if (!DEVICE_REQUESTS.includes(device)) throw new TypeError('options.device must be one of auto, cuda, cpu');
    const threads = opts.threads ?? availableParallelism();
    if (!Number.isInteger(threads) || threads < 1) throw new TypeError('options.threads must be a positive integer');
    const intra = opts.intraOpNumThreads ?? 1;
    if (!Number.isInteger(intra) || intra < 0) throw new TypeError('options.intraOpNumThreads must be a non-negative integer');
    const maxBatch = opts.maxBatch ?? 16;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new TypeError('options.maxBatch must be a positive integer');
    const tasksPerThread = opts.tasksPerThread ?? 1;
    if (!Number.isInteger(tasksPerThread) || tasksPerThread < 1) throw new TypeError('options.tasksPerThread must be a positive integer');
    if (opts.models !== undefined && (!Array.isArray(opts.models) || !opts.models.every((m) => typeof m === 'string'))) {
      throw new TypeError('options.models must be an array of model ids');
    }
    const logger = opts.logger ?? silentLogger;
    const modelsDir = resolve(opts.modelsDir);
    const catalog = await allModels(modelsDir);
    const echo = opts.echo === true;
    // Fail on unknown or missing preload models before starting any thread.
    for (const id of opts.models ?? []) {
      if (id === ECHO_MODEL_ID && echo) continue;
      const d = catalog.find((m) => m.id === id);
      if (!d) throw unknownModelError(id, [...catalog.map((m) => m.id), ...(echo ? [ECHO_MODEL_ID] : [])]);
      if (!existsSync(modelPath(modelsDir, d))) throw missingModelError(modelsDir, d);
    }
    const probe = await probeDevice(device);
    if (probe.fallbackReason) {
      logger.info({ device: probe.provider, reason: probe.fallbackReason }, 'CUDA execution provider unavailable; using CPU');
    } else {
      logger.info({ device: probe.provider }, `using the ${probe.provider.toUpperCase()} execution provider`);
    }
    const pool = new EnginePool({ threads, provider: probe.provider, intraOpNumThreads: intra, tasksPerThread });
    const engine = new Engine(pool, modelsDir, probe.provider, probe.fallbackReason, echo, maxBatch, logger, catalog);
    try {
      for (const id of opts.models ?? []) if (id !== ECHO_MODEL_ID) await engine.loadModel(id);
    } catch (err) {
      await engine.close();
      throw err;
    }
    return engine;
  }

  /** The execution provider in use. */
  get device(): ExecutionProvider {
    return this.#device;
  }

  /** Why `auto` chose CPU (the CUDA load error), or null. */
  get deviceReason(): string | null {
    return this.#deviceReason;
  }

  /** Pool threads. */
  get threads(): number {
    return this.#pool.threads;
  }

  /** Frames waiting for a free thread. */
  get queueSize(): number {
    return this.#pool.queueSize;
  }

  /** The model directory. */
  get modelsDir(): string {
    return this.#modelsDir;
  }

  /** Models loaded on every thread, plus `echo` when enabled. */
  models(): EngineModelInfo[] {
    const out: EngineModelInfo[] = [];
    if (this.#echo) out.push(ECHO_INFO);
    for (const m of this.#ready.values()) out.push(this.#info(m));
    return out;
  }

  #info(m: LoadedModel): EngineModelInfo {
    return {
      id: m.descriptor.id,
      family: m.descriptor.family,
      inputSize: m.descriptor.input.size,
      tokensPerFrame: m.descriptor.tokensPerFrame,
      dynamicBatch: m.dynamicBatch,
      classNames: m.descriptor.classNames,
    };
  }

  async #descriptor(id: string): Promise<ModelDescriptor> {
    let d = this.#catalog.find((m) => m.id === id);
    if (!d) {
      // models.json may have changed since start.
      this.#catalog = await allModels(this.#modelsDir);
      d = this.#catalog.find((m) => m.id === id);
    }
    if (!d) throw unknownModelError(id, [...this.#catalog.map((m) => m.id), ...(this.#echo ? [ECHO_MODEL_ID] : [])]);
    return d;
  }

  /**
   * Loads a model on every thread (idempotent) and returns what the engine
   * offers for it. Throws `unknown_model`, `model_missing` or `internal`.
   */
  async loadModel(id: string): Promise<EngineModelInfo> {
    if (this.#closed) throw new YoloscaleError(ErrorCode.internal, 'the engine is closed');
    if (id === ECHO_MODEL_ID && this.#echo) return ECHO_INFO;
    let p = this.#loaded.get(id);
    if (!p) {
      p = this.#load(id);
      this.#loaded.set(id, p);
      p.catch(() => this.#loaded.delete(id));
    }
    return this.#info(await p);
  }

  async #load(id: string): Promise<LoadedModel> {
    const descriptor = await this.#descriptor(id);
    const path = modelPath(this.#modelsDir, descriptor);
    if (!existsSync(path)) throw missingModelError(this.#modelsDir, descriptor);
    const thread: ThreadModel = {
      id: descriptor.id,
      path,
      family: descriptor.family,
      input: descriptor.input,
      classNames: descriptor.classNames,
    };
    const t0 = performance.now();
    const replies = await this.#pool.loadEverywhere(thread);
    for (const r of replies) if (!r.ok) throw fromThreadError(r.error);
    const first = replies[0];
    const dynamicBatch = first !== undefined && first.ok && isDynamicDim(first.inputDims[0]);
    const loaded: LoadedModel = { descriptor, thread, dynamicBatch };
    this.#ready.set(id, loaded);
    this.#logger.info(
      { model: id, threads: replies.length, dynamicBatch, ms: Math.round(performance.now() - t0) },
      `model ${id} loaded on ${replies.length} thread(s)`,
    );
    return loaded;
  }

  #echoResult(bytes: Uint8Array, t0: number): DetectionResult {
    const image = orientedSize(checkImageLimits(bytes));
    return {
      model: ECHO_MODEL_ID,
      image,
      detections: [],
      timing: { queueMs: 0, inferMs: 0, totalMs: performance.now() - t0 },
    };
  }

  /**
   * Detects objects in one encoded image (JPEG, PNG or WebP).
   * Throws `bad_image`, `too_large`, `unsupported_media_type`, `bad_request`
   * (parameters), `unknown_model`, `model_missing` or `internal`.
   */
  async detect(bytes: Uint8Array, modelId: string, params?: EngineDetectParams, opts: DetectCallOptions = {}): Promise<DetectionResult> {
    const t0 = performance.now();
    const submittedAt = now();
    checkBytes(bytes);
    if (this.#closed) throw new YoloscaleError(ErrorCode.internal, 'the engine is closed');
    if (modelId === ECHO_MODEL_ID && this.#echo) return this.#echoResult(bytes, t0);
    const model = this.#ready.get(modelId) ?? (await this.loadModel(modelId), this.#ready.get(modelId)!);
    const resolved = resolveParams(params, model.descriptor.classNames);
    checkImageLimits(bytes);
    return this.#detectOne(model, ownBytes(bytes, opts.transfer === true), resolved, t0, submittedAt);
  }

  async #detectOne(model: LoadedModel, image: Uint8Array, params: EngineResolvedParams, t0: number, submittedAt: number): Promise<DetectionResult> {
    const reply = await this.#pool.detect({ kind: 'detect', model: model.thread, image, params, submittedAt });
    if (!reply.ok) throw fromThreadError(reply.error);
    return {
      model: model.descriptor.id,
      image: reply.image,
      detections: reply.detections,
      timing: {
        queueMs: Math.max(0, reply.startedAt - submittedAt),
        inferMs: reply.inferMs,
        totalMs: performance.now() - t0,
      },
    };
  }

  /**
   * Detects objects in several frames of one model. Each frame gets its own
   * result or its own error: a bad image fails only its frame. Models with a
   * dynamic batch dimension run the frames as stacked batches (one
   * `session.run` each, after preparing the images in parallel): on CUDA up
   * to `maxBatch` frames per batch, on CPU split evenly across the pool's
   * threads. Fixed-batch models run the frames one by one across the pool.
   * Throws only for an unknown or missing model.
   */
  async detectBatch(modelId: string, items: readonly BatchItem[]): Promise<Array<DetectionResult | YoloscaleError>> {
    const t0 = performance.now();
    const submittedAt = now();
    if (!Array.isArray(items)) throw new YoloscaleError(ErrorCode.badRequest, 'items must be an array');
    if (this.#closed) throw new YoloscaleError(ErrorCode.internal, 'the engine is closed');
    if (modelId === ECHO_MODEL_ID && this.#echo) {
      return items.map((it) => {
        try {
          checkBytes(it?.image);
          return this.#echoResult(it.image, t0);
        } catch (err) {
          return toYoloscaleError(err);
        }
      });
    }
    const model = this.#ready.get(modelId) ?? (await this.loadModel(modelId), this.#ready.get(modelId)!);
    // Per-frame validation: parameters, header limits.
    const checked = items.map((it): { image: Uint8Array; params: EngineResolvedParams } | YoloscaleError => {
      try {
        checkBytes(it?.image);
        const params = resolveParams(it.params, model.descriptor.classNames);
        checkImageLimits(it.image);
        return { image: new Uint8Array(it.image), params };
      } catch (err) {
        return toYoloscaleError(err);
      }
    });
    if (!model.dynamicBatch) {
      return Promise.all(
        checked.map(async (c) => {
          if (c instanceof YoloscaleError) return c;
          try {
            return await this.#detectOne(model, c.image, c.params, t0, submittedAt);
          } catch (err) {
            return toYoloscaleError(err);
          }
        }),
      );
    }
    const results: Array<DetectionResult | YoloscaleError> = checked.map((c) =>
      c instanceof YoloscaleError ? c : new YoloscaleError(ErrorCode.internal, 'not run'),
    );
    const pending = checked.flatMap((c, i) => (c instanceof YoloscaleError ? [] : [{ i, ...c }]));
    // On CPU each session runs on one pool thread, so a batch is split across
    // the threads to keep every core busy; a GPU gets the largest batches.
    const size =
      this.#device === 'cpu' ? Math.max(1, Math.min(this.#maxBatch, Math.ceil(pending.length / this.#pool.threads))) : this.#maxBatch;
    const chunks: Array<typeof pending> = [];
    for (let k = 0; k < pending.length; k += size) chunks.push(pending.slice(k, k + size));
    await Promise.all(chunks.map((chunk) => this.#runChunk(model, chunk, results, t0, submittedAt)));
    return results;
  }

  async #runChunk(
    model: LoadedModel,
    chunk: Array<{ i: number; image: Uint8Array; params: EngineResolvedParams }>,
    results: Array<DetectionResult | YoloscaleError>,
    t0: number,
    submittedAt: number,
  ): Promise<void> {
    const prepared = await Promise.all(chunk.map((c) => this.#pool.prepare({ kind: 'prepare', model: model.thread, image: c.image })));
    const ok: Array<{ i: number; params: EngineResolvedParams; data: Float32Array | Uint16Array; startedAt: number; geometry: { width: number; height: number; ratio: number; padX: number; padY: number } }> = [];
    prepared.forEach((p, k) => {
      const c = chunk[k]!;
      if (p.ok) ok.push({ i: c.i, params: c.params, data: p.data, startedAt: p.startedAt, geometry: p.geometry });
      else results[c.i] = fromThreadError(p.error);
    });
    if (ok.length === 0) return;
    const per = 3 * model.descriptor.input.size * model.descriptor.input.size;
    const input = model.descriptor.input.dtype === 'float16' ? new Uint16Array(per * ok.length) : new Float32Array(per * ok.length);
    ok.forEach((o, k) => input.set(o.data, k * per));
    const reply = await this.#pool.infer({
      kind: 'infer',
      model: model.thread,
      input,
      items: ok.map((o) => ({ geometry: o.geometry, params: o.params })),
    });
    ok.forEach((o, k) => {
      results[o.i] = reply.ok
        ? {
            model: model.descriptor.id,
            image: { width: o.geometry.width, height: o.geometry.height },
            detections: reply.detections[k]!,
            timing: {
              queueMs: Math.max(0, o.startedAt - submittedAt),
              inferMs: reply.inferMs,
              totalMs: performance.now() - t0,
            },
          }
        : fromThreadError(reply.error);
    });
  }

  /**
   * Runs `repeat` bare `session.run`s on a prepared input (batch of `batch`
   * copies of `tensor`) on one thread; returns milliseconds per run. For
   * benchmarks.
   */
  async runRaw(modelId: string, tensor: Float32Array | Uint16Array, batch: number, repeat: number): Promise<number[]> {
    const model = this.#ready.get(modelId) ?? (await this.loadModel(modelId), this.#ready.get(modelId)!);
    const per = 3 * model.descriptor.input.size * model.descriptor.input.size;
    if (tensor.length !== per) throw new TypeError(`tensor must hold ${per} elements`);
    if (batch > 1 && !model.dynamicBatch) throw new TypeError(`model ${modelId} has a fixed batch of 1`);
    const input = tensor instanceof Uint16Array ? new Uint16Array(per * batch) : new Float32Array(per * batch);
    for (let k = 0; k < batch; k++) input.set(tensor, k * per);
    const reply = await this.#pool.raw({ kind: 'raw', model: model.thread, input, batch, repeat });
    if (!reply.ok) throw fromThreadError(reply.error);
    return reply.runMs;
  }

  /** Stops the pool after the frames in flight finish. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close();
  }
}
