/**
 * The engine's piscina pool: a fixed set of threads (never shrunk while the
 * engine lives, so their sessions stay loaded), typed task helpers, and
 * transfer of image and tensor buffers instead of copies.
 */
import { Piscina } from 'piscina';
import type { ExecutionProvider } from './ort.js';
import type {
  DetectReply,
  DetectTask,
  InferReply,
  InferTask,
  LoadReply,
  PrepareReply,
  PrepareTask,
  RawReply,
  RawTask,
  ThreadInit,
  ThreadModel,
  ThreadTask,
} from './thread-messages.js';

/** Options of {@link EnginePool}. */
export interface EnginePoolOptions {
  /** Number of threads (each owns its sessions). */
  threads: number;
  provider: ExecutionProvider;
  /** onnxruntime intra-op threads per session (0 = onnxruntime's default). */
  intraOpNumThreads: number;
  /** Tasks one thread runs at once (default 1). */
  tasksPerThread?: number;
}

const RUNNING_TS = import.meta.url.endsWith('.ts');

/**
 * The thread entry next to this module: `thread.js` once built; from the
 * TypeScript sources a small bootstrap that registers tsx first (Node 20
 * worker threads do not inherit the parent's loader hooks).
 */
function threadFile(): URL {
  return new URL(RUNNING_TS ? './thread-dev.mjs' : './thread.js', import.meta.url);
}

function transferable(buf: ArrayBufferLike): ArrayBuffer[] {
  return buf instanceof ArrayBuffer ? [buf] : [];
}

/** A fixed-size pool of engine threads. */
export class EnginePool {
  #piscina: Piscina<ThreadTask, unknown>;
  #threads: number;
  #tasksPerThread: number;
  #loading: Promise<unknown> = Promise.resolve();

  constructor(opts: EnginePoolOptions) {
    if (!Number.isInteger(opts.threads) || opts.threads < 1) throw new TypeError('options.threads must be a positive integer');
    if (!Number.isInteger(opts.intraOpNumThreads) || opts.intraOpNumThreads < 0) {
      throw new TypeError('options.intraOpNumThreads must be a non-negative integer');
    }
    const tasksPerThread = opts.tasksPerThread ?? 1;
    if (!Number.isInteger(tasksPerThread) || tasksPerThread < 1) throw new TypeError('options.tasksPerThread must be a positive integer');
    const workerData: ThreadInit = { provider: opts.provider, intraOpNumThreads: opts.intraOpNumThreads };
    this.#threads = opts.threads;
    this.#tasksPerThread = tasksPerThread;
    this.#piscina = new Piscina<ThreadTask, unknown>({
      filename: threadFile().href,
      name: 'default',
      minThreads: opts.threads,
      maxThreads: opts.threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: tasksPerThread,
      workerData,
    });
  }

  /** Number of threads. */
  get threads(): number {
    return this.#threads;
  }

  /** Tasks waiting for a free thread. */
  get queueSize(): number {
    return this.#piscina.queueSize;
  }

  /** Prepare, infer and decode one image; the image's buffer is transferred when it is exclusively owned. */
  async detect(task: DetectTask): Promise<DetectReply> {
    return (await this.#piscina.run(task, { transferList: transferable(task.image.buffer) })) as DetectReply;
  }

  /** Prepare one image and return its tensor. */
  async prepare(task: PrepareTask): Promise<PrepareReply> {
    return (await this.#piscina.run(task, { transferList: transferable(task.image.buffer) })) as PrepareReply;
  }

  /** Run one stacked batch and decode every image. */
  async infer(task: InferTask): Promise<InferReply> {
    return (await this.#piscina.run(task, { transferList: transferable(task.input.buffer) })) as InferReply;
  }

  /** Run prepared tensors without decoding (benchmarks); the input is copied, so it can be reused. */
  async raw(task: RawTask): Promise<RawReply> {
    return (await this.#piscina.run(task)) as RawReply;
  }

  /**
   * Opens `model` on every thread (each thread gets exactly `tasksPerThread` load tasks).
   * Loads run one model at a time: two barriers in flight at once could each
   * hold half of the threads and wait for the other half forever.
   */
  loadEverywhere(model: ThreadModel): Promise<LoadReply[]> {
    const run = async (): Promise<LoadReply[]> => {
      const barrier = new Int32Array(new SharedArrayBuffer(4));
      // Each thread holds up to tasksPerThread tasks, so this many parties put every thread in the barrier.
      const parties = this.#threads * this.#tasksPerThread;
      return Promise.all(
        Array.from({ length: parties }, async () => (await this.#piscina.run({ kind: 'load', model, barrier, parties })) as LoadReply),
      );
    };
    const next = this.#loading.then(run, run);
    this.#loading = next.catch(() => undefined);
    return next;
  }

  /** Stops the threads after the tasks in flight finish. */
  async close(): Promise<void> {
    await this.#piscina.close();
  }
}
